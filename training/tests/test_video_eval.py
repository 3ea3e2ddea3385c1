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
        self.assertLess(row["grid_floor_levels"], 0.2 * row["grid_levels"])  # a pure period: nothing beside its bins

    def test_texture_with_no_period_fills_the_grid_bins_and_their_floor_alike(self):
        clip, _ = video(256)
        noisy = clip + np.random.default_rng(0).normal(0, 0.02, clip.shape)
        row = V.measure_video(noisy.astype(np.float32), {"colour": "red", "shape": "star"}, fps=8, skip=5)
        self.assertGreater(row["grid_levels"], 0.01)
        self.assertAlmostEqual(row["grid_floor_levels"] / row["grid_levels"], 1.0, delta=0.25)

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

    def test_every_setting_is_measured_on_the_same_start_and_averaged_on_its_own_rows(self):
        import torch
        starts = []

        def prepare(prompt, seed):
            a = W.caption_attributes(prompt)
            clip, _ = video(64, frames=6, colour=a["colour"], shape=a["shape"], background="white")
            starts.append((prompt, seed))
            return torch.from_numpy(clip)[None]
        blob = W.render({"colour": "red", "shape": "circle", "background": "white", "direction": None,
                         "radius": 0.1, "center": (0.5, 0.5)}, 64)
        settings = {"as rendered": lambda x: x, "blobs": lambda x: torch.from_numpy(blob)[None, :, None].expand_as(x)}
        prompts = ["a red star on a white background", "a red square"]
        rows, table = V.measure_settings(prompts, E.SELECTION_SEEDS[:2], prepare, settings,
                                         ("shape_share", "moves_ok"), fps=8)
        self.assertEqual(len(starts), 4)  # once per prompt × seed, shared by both settings
        self.assertEqual(len(rows), 8)
        self.assertEqual(table["as rendered"]["shape_share"], 1.0)
        self.assertEqual(table["blobs"]["shape_share"], 0.0)
        self.assertIsNone(table["as rendered"]["moves_ok"])  # no clip is oriented: nothing to average
        with self.assertRaisesRegex(ValueError, "not selection seeds"):
            V.measure_settings(prompts, E.REPORT_SEEDS[:1], prepare, settings, ("shape_share",))

    def test_new_sr_weights_ship_only_with_less_halo_and_grid_and_the_shape_kept(self):
        row = lambda shape, halo, grid: {"shape_share": shape, "halo": halo, "grid_levels": grid}
        shipped = row(1.0, 0.01, 0.2)
        self.assertEqual(V.choose_sr({"old": shipped, "new": row(0.99, 0.005, 0.1)}, ["old", "new"]), "new")
        self.assertEqual(V.choose_sr({"old": shipped, "new": row(0.97, 0.005, 0.1)}, ["old", "new"]), "old")
        self.assertEqual(V.choose_sr({"old": shipped, "new": row(1.0, 0.005, 0.3)}, ["old", "new"]), "old")
        table = {"old": shipped, "a": row(1.0, 0.008, 0.19), "b": row(1.0, 0.004, 0.15)}
        self.assertEqual(V.choose_sr(table, ["old", "a", "b"]), "b")
        # SR_h is judged by its own 3-px grid, not by the 4-px one it is handed
        table = {"old": dict(shipped, grid_sr_high_levels=0.2),
                 "new": dict(row(1.0, 0.009, 0.3), grid_sr_high_levels=0.1)}
        self.assertEqual(V.choose_sr(table, ["old", "new"], V.GRID_OF["sr_high"]), "new")
        self.assertEqual(V.choose_sr(table, ["old", "new"], V.GRID_OF["sr_low"]), "old")
        # the rule reads the means as measured: a halo lower only in the fifth decimal is lower
        rows = [{"setting": c, "shape_share": 1.0, "halo": h, "grid_levels": g}
                for c, h, g in (("old", 0.016588, 0.2), ("new", 0.016553, 0.1))]
        self.assertEqual(V.choose_sr(V.setting_means(rows, ["old", "new"], ("shape_share", "halo", "grid_levels")),
                                     ["old", "new"]), "new")

    def test_fewer_sr_steps_only_while_the_video_stays_as_good(self):
        row = lambda shape, halo, grid, sharp: {"shape_share": shape, "halo": halo, "grid_levels": grid,
                                                "sharp_levels": sharp}
        table = {10: row(1.0, 0.01, 0.2, 40), 5: row(0.99, 0.0105, 0.21, 39), 3: row(1.0, 0.02, 0.2, 40)}
        self.assertEqual(V.choose_sr_steps(table, [10, 5, 3]), 5)
        table[5] = row(1.0, 0.01, 0.2, 36)  # softer outlines
        self.assertEqual(V.choose_sr_steps(table, [10, 5, 3]), 10)
        table = {4: row(1.0, 0.01, 0.2, 40), 2: row(1.0, 0.01, 0.2, 40), 1: row(1.0, 0.01, 0.2, 40)}
        self.assertEqual(V.choose_sr_steps(table, [4, 2, 1]), 2)  # one step would run at t = 0 on pure noise

    def test_the_decoder_takes_the_fewest_steps_then_the_most_guidance_that_halve_the_halo_and_keep_the_rest(self):
        row = lambda shape, halo, sharp, moves: {"shape_share": shape, "halo": halo, "sharp_levels": sharp,
                                                 "moves_ok": moves}
        settings = [(0, 50, None), (200, 50, None), (500, 50, None), (200, 25, None), (0, 25, None)]
        table = {V.decoder_label(0, 50): row(1.0, 0.02, 120, 0.75), V.decoder_label(200, 50): row(1.0, 0.004, 118, 0.75),
                 V.decoder_label(500, 50): row(1.0, 0.004, 118, 0.75), V.decoder_label(200, 25): row(0.99, 0.005, 117, 0.75),
                 V.decoder_label(0, 25): row(1.0, 0.02, 120, 0.75)}
        self.assertEqual(V.choose_decoder_sampling(table, settings), (200, 25, None))
        table[V.decoder_label(200, 25)]["moves_ok"] = 0.5  # a fish that stops swimming costs more than a rim
        self.assertEqual(V.choose_decoder_sampling(table, settings), (200, 50, None))
        for label in (V.decoder_label(200, 50), V.decoder_label(500, 50)):
            table[label]["shape_share"] = 0.95
        self.assertEqual(V.choose_decoder_sampling(table, settings), (0, 25, None))  # none halves the halo: fewest steps
        self.assertEqual(V.choose_decoder_sampling(table, settings, [V.decoder_label(0, 50)]), (0, 50, None))

    def test_a_guided_hold_that_halves_the_halo_wins_at_the_same_steps_and_its_setting_reads_back(self):
        row = lambda halo, sharp: {"shape_share": 1.0, "halo": halo, "sharp_levels": sharp, "moves_ok": 0.75}
        settings = V.decoder_settings(["0:50", "0:50:1:0"])
        self.assertEqual(settings, [(0, 50, None), (0, 50, (1, 0.0))])
        held = V.decoder_label(*settings[1])
        self.assertEqual(held, "t>=0, 50 steps, held 1:0.0")
        table = {V.decoder_label(0, 50): row(0.02, 120), held: row(0.004, 116)}
        self.assertEqual(V.decoder_choice(V.choose_decoder_sampling(table, settings)),
                         {"guidance_min_timestep": 0, "steps": 50,
                          "hold_guided_to_conditional": {"radius": 1, "margin": 0.0}})
        table[held]["sharp_levels"] = 100  # softer outlines
        self.assertEqual(V.choose_decoder_sampling(table, settings), (0, 50, None))
        self.assertEqual(V.decoder_hold(None), False)  # explicitly none, whatever the manifest says
        with self.assertRaises(SystemExit):
            V.decoder_settings(["0:50:1"])

    def test_new_interpolator_weights_win_on_sharpness_only_with_shape_area_and_halo_kept(self):
        row = lambda shape, off, halo, sharp: {"shape_share": shape, "area_off_worst": off, "halo": halo,
                                               "sharp_ratio": sharp}
        settings = [("shipped", 0.05), ("new", 0.05), ("new", 0.3)]
        table = {V.interpolator_label("shipped", 0.05): row(0.99, 0.16, 0.004, 0.75),
                 V.interpolator_label("new", 0.05): row(0.99, 0.10, 0.004, 0.92),
                 V.interpolator_label("new", 0.3): row(0.99, 0.10, 0.004, 0.92)}
        self.assertEqual(V.choose_interpolator(table, settings), ("new", 0.3))  # a tie: the larger strength
        table[V.interpolator_label("new", 0.3)]["shape_share"] = 0.96  # sharp blobs are still blobs
        self.assertEqual(V.choose_interpolator(table, settings), ("new", 0.05))
        table[V.interpolator_label("new", 0.05)]["area_off_worst"] = 0.2  # a thinner arrow
        self.assertEqual(V.choose_interpolator(table, settings), ("shipped", 0.05))
        table[V.interpolator_label("new", 0.05)].update(area_off_worst=0.1, halo=0.005)  # ghosted edges
        self.assertEqual(V.choose_interpolator(table, settings), ("shipped", 0.05))

    def test_the_sheet_crop_follows_the_object(self):
        clip, _ = video(512, frames=2, center=(0.75, 0.3), shape="square")
        crop = V.object_crop(clip, 192)
        self.assertEqual(crop.shape, (3, 2, 192, 192))
        centre = V.object_crop(clip, 64)  # small enough to lie inside the square
        self.assertLess(np.abs(centre[:, 0] - W.unit_rgb(W.COLOURS["red"])[:, None, None]).max(), 0.05)


if __name__ == "__main__":
    unittest.main()
