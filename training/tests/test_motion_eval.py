"""motion_eval reads the world's own speed off clips the world renders, at any fps, along the named way."""
import unittest

import numpy as np

from mav_training import evaluate as E
from mav_training import motion_eval as M
from mav_training import world as W


class MotionEvalTest(unittest.TestCase):
    def test_the_speed_of_a_rendered_fish_is_the_worlds_at_every_fps_and_negative_the_other_way(self):
        scene = {"colour": "red", "shape": "fish", "background": "black", "direction": "left", "radius": 0.15,
                 "center": (0.5, 0.5)}
        for fps in (4, 8, 16, 30):
            motion = W.sample_motion(scene, np.random.default_rng(fps), 16, fps)
            a = E.analyse(W.render_video(scene, motion, 16, fps, 64))
            speed = M.named_speed(a["centroids"], "left", fps)
            self.assertIsInstance(speed, float)  # rows are written as JSON
            self.assertAlmostEqual(speed, motion["speed"], delta=0.1 * motion["speed"])
            self.assertAlmostEqual(M.named_speed(a["centroids"], "right", fps), -speed)

    def test_the_report_keeps_held_out_pairs_apart_and_takes_the_median_per_fps(self):
        rows = [{"held_out": h, "fps": f, "speed": s, "fast_ok": s >= M.MIN_SPEED, "speed_ok": s >= M.MIN_SPEED,
                 "shape_ok": True, "facing_ok": True, "smooth_ok": True}
                for h, f, s in ((False, 4.0, 0.02), (False, 4.0, 0.06), (False, 4.0, 0.08), (True, 8.0, 0.05))]
        s = M.summarise(rows)
        self.assertEqual(s["seen"]["median_speed_by_fps"], {"4.0": 0.06})
        self.assertEqual((s["seen"]["fast_ok"]["k"], s["seen"]["fast_ok"]["n"]), (2, 3))
        self.assertEqual(s["held_out"]["fast_ok"]["k"], 1)

    def test_the_choice_counts_a_clip_faster_than_the_world_as_wrong_and_ties_go_to_the_shipped_setting(self):
        def rows(*speeds, shape=True):
            return [{"fps": 8.0, "speed": v, "fast_ok": v >= M.MIN_SPEED, "speed_ok": M.MIN_SPEED <= v <= M.MAX_SPEED,
                     "shape_ok": shape, "facing_ok": True, "smooth_ok": True} for v in speeds]
        shipped = M.SHIPPED
        faster = (shipped[0] + 0.5, shipped[1])
        # faster everywhere, but past the world's fastest on one clip: as many in range as the shipped setting
        res = M.choose({shipped: rows(0.02, 0.06), faster: rows(0.05, 0.3)})
        self.assertEqual(res["chosen"], M.setting_label(shipped))
        self.assertEqual(res["candidates"][M.setting_label(faster)]["fast"], 2)
        self.assertEqual(M.choose({shipped: rows(0.02, 0.06), faster: rows(0.05, 0.1)})["chosen"],
                         M.setting_label(faster))
        # more clips in range, but shapes broken on both: not a candidate
        res = M.choose({shipped: rows(0.02, 0.06), faster: rows(0.05, 0.1, shape=False)})
        self.assertEqual(res["chosen"], M.setting_label(shipped))
        # a tie between two other settings goes to the one nearer the shipped setting
        near, far = (shipped[0], shipped[1] + 0.1), (shipped[0] + 0.25, shipped[1] + 0.3)
        res = M.choose({shipped: rows(0.02, 0.06), far: rows(0.05, 0.1), near: rows(0.05, 0.1)})
        self.assertEqual(res["chosen"], M.setting_label(near))

    def test_settings_read_a_blend_with_an_optional_fps_exponent(self):
        self.assertEqual(M.motion_setting("0.75"), (0.75, 0.0))
        self.assertEqual(M.motion_setting("0.75:0.3"), (0.75, 0.3))
        self.assertEqual(M.setting_label((0.75, 0.0)), "0.75")
        self.assertEqual(M.setting_label((0.75, 0.3)), "0.75:0.3")

    def test_a_decoder_setting_keeps_the_motion_when_as_many_clips_move_in_range_and_the_rest_within_one(self):
        row = lambda speed, shape=5, facing=5, smooth=5: {"speed_in_range": speed, "shape": shape, "facing": facing,
                                                          "smooth": smooth}
        table = {"ref": row(10), "fewer steps": row(10, shape=4), "interval": row(8), "broken": row(11, smooth=3)}
        self.assertEqual(M.keeps_motion(table, list(table)), ["ref", "fewer steps"])

    def test_selection_and_report_seeds_are_kept_apart(self):
        with self.assertRaises(ValueError):
            M.select(None, E.REPORT_SEEDS[:1])
        with self.assertRaises(ValueError):
            M.report(None, E.SELECTION_SEEDS[:1])


if __name__ == "__main__":
    unittest.main()
