"""The evaluation's measurements read the right answer off clips rendered by the world itself."""
import unittest

import numpy as np

from mav_training import evaluate as E
from mav_training import world as W


class EvaluateTest(unittest.TestCase):
    def clip(self, **scene):
        base = {"colour": "red", "shape": "circle", "background": "black", "direction": None, "radius": 0.15,
                "center": (0.5, 0.5)}
        base.update(scene)
        motion = W.sample_motion(base, np.random.default_rng(3), 16, 8)
        return W.render_video(base, motion, 16, 8, 64)

    def test_colour_background_and_presence_of_rendered_clips(self):
        for colour, bg in (("blue", "white"), ("yellow", "gray"), ("purple", "black")):
            a = E.analyse(self.clip(colour=colour, background=bg))
            self.assertEqual(a["colour"], colour)
            self.assertEqual(a["bg"], bg)
            self.assertEqual(a["present"].mean(), 1.0)
            self.assertLess(a["flicker"], 0.5)

    def test_the_colour_of_a_soft_edged_thin_shape_is_read_from_its_interior(self):
        sharp = W.render({"colour": "orange", "shape": "arrow", "background": "white", "direction": "up",
                          "radius": 0.15, "center": (0.5, 0.5)}, 64)
        a = E.analyse(sharp[:, None])
        self.assertEqual((a["colour"], a["colour_mask"]), ("orange", "orange"))
        # one 3×3 box blur, edges as soft as the decoder draws them: the whole foreground's mean turns yellow
        padded = np.pad(sharp, ((0, 0), (1, 1), (1, 1)), mode="edge")
        soft = sum(padded[:, i:i + 64, j:j + 64] for i in range(3) for j in range(3)) / 9
        a = E.analyse(soft[:, None])
        self.assertEqual((a["colour"], a["colour_mask"]), ("orange", "yellow"))
        inner = E.interior(a["fg"])
        self.assertTrue(inner.any() and (inner <= a["fg"]).all() and inner.sum() < a["fg"].sum())

    def test_shape_facing_and_motion_of_rendered_clips(self):
        for shape, direction in (("star", None), ("square", None), ("fish", "left"), ("arrow", "up"),
                                 ("arrow", "right")):
            a = E.analyse(self.clip(shape=shape, direction=direction, radius=0.2))
            for k in (0, 7, 15):
                got, facing, iou = E.classify_shape(a["fg"][k])
                self.assertEqual(got, shape, (shape, k))
                self.assertGreater(iou, 0.7)
                self.assertEqual(facing, direction)
            if direction:
                self.assertEqual(E.motion_direction(a["centroids"])[0], direction)

    def test_jump_sees_an_object_redrawn_elsewhere_that_first_to_last_motion_misses(self):
        clip = self.clip(shape="arrow", direction="right", radius=0.15)
        smooth = E.max_jump(E.analyse(clip)["centroids"])
        self.assertLess(smooth, 1.5)
        self.assertLessEqual(smooth, E.JUMP_PX)
        # frames 6-9 show the object in the top-left corner, then it is back on its path
        moved = clip.copy()
        far = W.render({"colour": "red", "shape": "arrow", "background": "black", "direction": "right",
                        "radius": 0.15, "center": (0.2, 0.2)}, 64)
        moved[:, 6:10] = far[:, None]
        a = E.analyse(moved)
        self.assertEqual(E.motion_direction(a["centroids"])[0], "right")
        self.assertGreater(E.max_jump(a["centroids"]), 10)
        self.assertIsNone(E.max_jump(np.full((16, 2), np.nan)))

    def test_summary_reports_held_out_pairs_apart(self):
        row = lambda held, ok: {"held_out": held, "seen_caption": False, "colour_ok": ok, "shape_ok": ok,
                                "bg_ok": None, "present_keyframes": 1.0, "flicker_keyframes": 0.1}
        s = E.summarise([row(False, True), row(False, False), row(True, False)],
                        [{"prompt": "p", "fps": 4.0, "frame_widths_per_s": 0.1},
                         {"prompt": "p", "fps": 8.0, "frame_widths_per_s": 0.2}])
        self.assertEqual(s["seen_pairs"]["colour_ok"], 0.5)
        self.assertEqual(s["held_out_pairs"]["colour_ok"], 0.0)
        self.assertEqual(s["seen_pairs"]["samples"], 2)
        self.assertEqual(s["speed_ratio_max_min"]["p"], 2.0)
        self.assertTrue(all(E.W.caption_attributes(p) for p in E.PROMPTS))
        self.assertEqual(s["seen_pairs"]["ci95"]["colour_ok"], E.wilson(1, 2))
        self.assertNotIn("bg_ok", s["seen_pairs"]["ci95"])  # no prompt named a background

    def test_wilson_interval_matches_the_textbook_values(self):
        # Wilson (1927) score interval, z = 1.96: 5 of 10 → 0.237–0.763; 0 of 10 → 0–0.278 (not a point at 0)
        self.assertEqual(E.wilson(5, 10), [0.237, 0.763])
        self.assertEqual(E.wilson(0, 10), [0.0, 0.278])
        self.assertEqual(E.wilson(10, 10), [0.722, 1.0])
        self.assertIsNone(E.wilson(0, 0))

    def test_report_is_rewritten_from_saved_rows_with_intervals(self):
        import json, os, tempfile
        rows = [{"prompt": "a red fish swimming left", "seed": i, "held_out": False, "colour_ok": i < 3,
                 "colour": "red", "shape_ok": True, "shape": "fish", "iou": 0.8, "bg_ok": None, "bg": "black",
                 "facing_ok": True, "motion_ok": False, "motion": "static", "present_keyframes": 1.0,
                 "jump_px": 0.5, "smooth_ok": True, "flicker_keyframes": 0.1} for i in range(4)]
        summary = {"clip_colour": 1.0, "prior_top1_seen": 0.9}
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "eval.json"), "w") as f:
                json.dump({"summary": summary, "rows": rows, "speed": [], "steps": {"decoder": 50,
                           "interpolator": 25}, "guidance": 3.0}, f)
            res = E.report_again(d)
            E.write_reports(d, res)
            with open(os.path.join(d, "eval.md")) as f:
                md = f.read()
        self.assertEqual(res["summary"]["seen_pairs"]["colour_ok"], 0.75)
        self.assertEqual(res["summary"]["clip_colour"], 1.0)
        self.assertIn("| colour right (nearest palette colour of the object's interior) | 75 % (30–95) | – |", md)


if __name__ == "__main__":
    unittest.main()
