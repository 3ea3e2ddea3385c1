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


if __name__ == "__main__":
    unittest.main()
