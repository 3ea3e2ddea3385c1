"""The measures of sr_eval: PSNR, the outline band, the interval, and the scene sets."""
import math
import unittest

import numpy as np
import torch

from mav_training import sr_eval as S
from mav_training import world as W


class SrEvalMeasuresTest(unittest.TestCase):
    def test_psnr_scores_in_0_1_and_over_a_mask_only_its_pixels(self):
        ref = torch.zeros(1, 3, 8, 8)
        off = ref + 0.1  # 0.05 in [0, 1]: MSE 0.0025
        self.assertAlmostEqual(S.psnr(off, ref), 10 * math.log10(1 / 0.0025), places=4)
        x = ref.clone()
        x[..., :4] = 1.0  # wrong by 0.5 in [0, 1] on the left half only
        mask = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
        mask[..., 4:] = True
        self.assertGreater(S.psnr(x, ref, mask), 100)  # the right half is exact
        self.assertAlmostEqual(S.psnr(x, ref, ~mask), 10 * math.log10(1 / 0.25), places=4)

    def test_outline_band_is_the_ring_of_pixels_around_the_edge(self):
        scene = {"colour": "red", "shape": "square", "background": "black", "direction": None, "radius": 0.2,
                 "center": (0.5, 0.5)}
        img = torch.from_numpy(W.render(scene, 64))
        band = S.outline_band(img, torch.from_numpy(W.unit_rgb(W.BACKGROUNDS["black"])).float(), 2)
        self.assertEqual(tuple(band.shape), (1, 64, 64))
        self.assertFalse(band[0, 32, 32] or band[0, 0, 0])  # deep inside, far outside
        row = band[0, 32].nonzero().flatten().tolist()  # a row through the middle crosses two edges
        runs = np.split(row, np.nonzero(np.diff(row) > 1)[0] + 1)
        self.assertEqual(len(runs), 2)
        self.assertTrue(all(4 <= len(r) <= 5 for r in runs), runs)  # 2 px each side of the edge

    def test_t_interval_holds_the_mean_and_narrows_with_more_scenes(self):
        rng = np.random.default_rng(0)
        few, many = rng.normal(3, 1, 5), rng.normal(3, 1, 30)
        m, lo, hi = S.t_interval(few)
        self.assertLess(lo, m)
        self.assertLess(m, hi)
        self.assertAlmostEqual(hi - m, 2.78 * few.std(ddof=1) / math.sqrt(5), places=6)
        _, lo2, hi2 = S.t_interval(many)
        self.assertLess(hi2 - lo2, hi - lo)

    def test_scene_sets_are_all_seen_or_all_held_out_and_repeat(self):
        seen, held = S.scenes(6, False), S.scenes(6, True)
        self.assertTrue(all(not W.is_held_out(s["colour"], s["shape"]) for s, _ in seen))
        self.assertTrue(all(W.is_held_out(s["colour"], s["shape"]) for s, _ in held))
        self.assertEqual([s for s, _ in S.scenes(6, True)], [s for s, _ in held])


if __name__ == "__main__":
    unittest.main()
