"""The full-video measures read the right answer off videos rendered by the world itself, and find what is
planted in them (a blob, a halo, a grid)."""
import unittest

import numpy as np

from mav_training import evaluate as E
from mav_training import video_eval as V
from mav_training import world as W


def video(size, frames=11, **scene):
    base = {"colour": "red", "shape": "star", "background": "gray", "direction": None, "radius": 0.15,
            "center": (0.5, 0.5)}
    base.update(scene)
    motion = W.sample_motion(base, np.random.default_rng(5), frames, 40)
    return W.render_video(base, motion, frames, 40, size), motion


class VideoEvalTest(unittest.TestCase):
    def test_a_rendered_video_is_right_in_every_frame_with_no_halo_and_no_grid(self):
        clip, motion = video(256, shape="arrow", direction="left", colour="orange", background="white")
        row = V.measure_video(clip, {"colour": "orange", "shape": "arrow", "direction": "left"}, fps=8, skip=5)
        self.assertEqual(row["shape_share"], 1.0)
        self.assertEqual(row["longest_wrong_shape"], 0)
        self.assertTrue(all(row["colour_ok"]) and all(row["present"]) and all(row["facing_ok"]))
        self.assertAlmostEqual(row["area_ratio"], 1.0, delta=0.05)
        self.assertAlmostEqual(row["sharp_ratio"], 1.0, delta=0.1)
        self.assertLess(row["halo"], 0.02)
        self.assertLess(row["grid_levels"], 0.2)
        self.assertTrue(row["direction_ok"])
        # 10 frames at 40 fps; the world's speed in frame-widths per second
        self.assertAlmostEqual(row["speed_fw_per_s"], motion["speed"], delta=0.02)

    def test_blobs_between_keyframes_a_halo_and_a_grid_are_found(self):
        clip, _ = video(256)
        bad = clip.copy()
        blob = W.render({"colour": "red", "shape": "circle", "background": "gray", "direction": None,
                         "radius": 0.1, "center": (0.5, 0.5)}, 256)
        for i in (1, 2, 3, 4):
            bad[:, i] = blob
        # a cyan ring around frame 0's object and a 4-px checker texture on the background of every frame
        fg = np.sqrt(((clip[:, 0] - clip[:, 0, :1, :1]) ** 2).sum(0)) > 0.3
        ring = V.dilate(fg, 4) & ~fg
        bad[:, 0][:, ring] = W.unit_rgb((0, 255, 255))[:, None]
        yy, xx = np.mgrid[:256, :256]
        bad = bad + 0.05 * np.cos(np.pi / 2 * xx)[None, None]
        row = V.measure_video(bad.astype(np.float32), {"colour": "red", "shape": "star"}, fps=8, skip=5)
        self.assertEqual(row["longest_wrong_shape"], 4)
        self.assertAlmostEqual(row["shape_share"], 7 / 11, places=3)
        self.assertLess(row["area_ratio"], 0.95)
        self.assertGreater(row["halo"] * 11, 0.15)  # one frame of 11 has a ring
        self.assertAlmostEqual(row["grid_levels"], 0.05 * 127.5 / np.sqrt(2), delta=0.5)

    def test_longest_run_and_dilation(self):
        self.assertEqual(V.longest_run([True, False, False, True, False]), 2)
        self.assertEqual(V.longest_run([True] * 4), 0)
        m = np.zeros((7, 7), bool)
        m[3, 3] = True
        self.assertEqual(V.dilate(m, 2).sum(), 25)

    def test_choices_and_reports_keep_to_their_own_seeds(self):
        self.assertFalse(set(E.SELECTION_SEEDS) & set(E.REPORT_SEEDS))
        with self.assertRaisesRegex(ValueError, "not report seeds"):
            E.check_seeds([E.SELECTION_SEEDS[0]], "report")
        with self.assertRaisesRegex(ValueError, "not selection seeds"):
            E.check_seeds([E.REPORT_SEEDS[0]], "selection")
        self.assertEqual(E.check_seeds(E.REPORT_SEEDS[:2], "report"), list(E.REPORT_SEEDS[:2]))

    def test_new_sr_weights_ship_only_with_less_halo_and_grid_and_the_shape_kept(self):
        row = lambda shape, halo, grid: {"shape_share": shape, "halo": halo, "grid_levels": grid}
        shipped = row(1.0, 0.01, 0.2)
        self.assertEqual(V.choose_sr({"old": shipped, "new": row(0.99, 0.005, 0.1)}, ["old", "new"]), "new")
        self.assertEqual(V.choose_sr({"old": shipped, "new": row(0.97, 0.005, 0.1)}, ["old", "new"]), "old")
        self.assertEqual(V.choose_sr({"old": shipped, "new": row(1.0, 0.005, 0.3)}, ["old", "new"]), "old")
        table = {"old": shipped, "a": row(1.0, 0.008, 0.19), "b": row(1.0, 0.004, 0.15)}
        self.assertEqual(V.choose_sr(table, ["old", "a", "b"]), "b")

    def test_fewer_sr_steps_only_while_the_video_stays_as_good(self):
        row = lambda shape, halo, grid, sharp: {"shape_share": shape, "halo": halo, "grid_levels": grid,
                                                "sharp_levels": sharp}
        table = {10: row(1.0, 0.01, 0.2, 40), 5: row(0.99, 0.0105, 0.21, 39), 3: row(1.0, 0.02, 0.2, 40)}
        self.assertEqual(V.choose_sr_steps(table, [10, 5, 3]), 5)
        table[5] = row(1.0, 0.01, 0.2, 36)  # softer outlines
        self.assertEqual(V.choose_sr_steps(table, [10, 5, 3]), 10)
        table = {4: row(1.0, 0.01, 0.2, 40), 2: row(1.0, 0.01, 0.2, 40), 1: row(1.0, 0.01, 0.2, 40)}
        self.assertEqual(V.choose_sr_steps(table, [4, 2, 1]), 2)  # one step would run at t = 0 on pure noise

    def test_the_guidance_interval_keeps_the_most_guidance_that_halves_the_halo(self):
        row = lambda shape, halo, sharp, moves: {"shape_share": shape, "halo": halo, "sharp_levels": sharp,
                                                 "moves_ok": moves}
        table = {0: row(1.0, 0.02, 120, 1.0), 200: row(1.0, 0.012, 120, 1.0), 300: row(0.99, 0.004, 118, 1.0),
                 500: row(0.99, 0.001, 117, 1.0), 1000: row(0.9, 0.0, 110, 0.5)}
        self.assertEqual(V.choose_guidance_interval(table, [0, 200, 300, 500, 1000]), 300)
        table[300]["moves_ok"] = 0.75  # a fish that stops swimming costs more than a rim
        self.assertEqual(V.choose_guidance_interval(table, [0, 200, 300, 500, 1000]), 500)
        table[500]["shape_share"] = 0.95
        self.assertEqual(V.choose_guidance_interval(table, [0, 200, 300, 500, 1000]), 0)

    def test_the_decoder_takes_the_fewest_steps_that_keep_shape_motion_and_edges(self):
        row = lambda shape, halo, sharp, moves, speed: {"shape_share": shape, "halo": halo, "sharp_levels": sharp,
                                                        "moves_ok": moves, "speed_fw_per_s": speed}
        table = {50: row(1.0, 0.0005, 120, 1.0, 0.05), 25: row(0.99, 0.001, 118, 1.0, 0.048),
                 20: row(0.99, 0.001, 118, 1.0, 0.04)}
        self.assertEqual(V.choose_decoder_steps(table, [50, 25, 20]), 25)  # 20 moves at 80 % of the speed
        table[25]["halo"] = 0.003
        self.assertEqual(V.choose_decoder_steps(table, [50, 25, 20]), 50)

    def test_the_sheet_crop_follows_the_object(self):
        clip, _ = video(512, frames=2, center=(0.75, 0.3), shape="square")
        crop = V.object_crop(clip, 192)
        self.assertEqual(crop.shape, (3, 2, 192, 192))
        centre = V.object_crop(clip, 64)  # small enough to lie inside the square
        self.assertLess(np.abs(centre[:, 0] - W.unit_rgb(W.COLOURS["red"])[:, None, None]).max(), 0.05)


if __name__ == "__main__":
    unittest.main()
