"""SR^t_l's fixed sub-pixel pattern: measured where it is planted, and folded into the head so that every output
pixel moves by its position's share."""
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from mav_training import checkpoints as C
from mav_training import phase_bias as P
from mav_training.schedulers import alphas_cumprod
from mav_training.unet import SpaceTimeUNet, sr_high_config, sr_low_config

ALPHAS = torch.tensor(alphas_cumprod("squaredcos_cap_v2"), dtype=torch.float32)


class PlantedPattern(torch.nn.Module):
    """An upsampler whose x̂0 is the bilinear upsampling of its input plus a known r-px pattern, returned as ε̂ the
    way the SR models return it: clips [b, 3, F, h, w] as SR^t_l takes them, or frames [n, 3, h, w] as SR_h."""

    def __init__(self, pattern):
        super().__init__()
        self.pattern = torch.as_tensor(pattern, dtype=torch.float32)
        self.r = self.pattern.shape[-1]

    def forward(self, x, t, cond):
        frames = cond.permute(0, 2, 1, 3, 4).flatten(0, 1) if cond.ndim == 5 else cond
        n, c, h, w = frames.shape
        x0 = F.interpolate(frames, scale_factor=float(self.r), mode="bilinear", align_corners=False)
        x0 = x0 + self.pattern.repeat(1, h, w)[None]
        if cond.ndim == 5:
            x0 = x0.reshape(cond.shape[0], -1, c, self.r * h, self.r * w).permute(0, 2, 1, 3, 4)
        a = ALPHAS[t].view(-1, *[1] * (x.ndim - 1))
        return (x - a.sqrt() * x0) / (1 - a).sqrt()


class PhaseBiasTest(unittest.TestCase):
    def test_a_planted_pattern_is_measured_on_flat_pixels_and_its_mean_left_alone(self):
        rng = np.random.default_rng(0)
        planted = rng.normal(0, 0.004, (3, 4, 4))
        measured = P.measure(PlantedPattern(planted + 0.01), clips=3)  # + a colour offset, which is not the grid
        np.testing.assert_allclose(measured, planted - planted.mean((1, 2), keepdims=True), atol=2e-4)

    def test_sr_highs_3px_pattern_is_measured_through_its_frame_by_frame_sampler(self):
        planted = np.random.default_rng(1).normal(0, 0.004, (3, 3, 3))
        measured = P.measure(PlantedPattern(planted - 0.02), "sr_high", clips=2)
        np.testing.assert_allclose(measured, planted - planted.mean((1, 2), keepdims=True), atol=2e-4)

    def test_folding_moves_each_output_pixel_by_its_positions_share(self):
        torch.manual_seed(0)
        for config, r, x, low in [(sr_low_config(), 4, torch.randn(1, 3, 2, 32, 32), torch.randn(1, 3, 2, 8, 8)),
                                  (sr_high_config(), 3, torch.randn(2, 3, 24, 24), torch.randn(2, 3, 8, 8))]:
            model, t = SpaceTimeUNet(**config).eval(), torch.tensor([300] * x.shape[0])
            pattern = torch.randn(3, r, r) * 0.01
            with torch.no_grad():
                before = model(x, t, cond=low, return_x0=True)
                C.fold_phase_bias(model, pattern)
                after = model(x, t, cond=low, return_x0=True)
            tiled = pattern.repeat(1, 8, 8)  # over the output's 8r × 8r, every frame
            expected = -(tiled[None, :, None] if x.ndim == 5 else tiled[None]).expand_as(before)
            torch.testing.assert_close(after - before, expected, atol=1e-5, rtol=0)


if __name__ == "__main__":
    unittest.main()


class ConditionClipTest(unittest.TestCase):
    """The samplers' `clip_sample_to_condition` (x̂0 held to the condition's local range, through the real sampler)
    and the decoder's `hold_guided_to_conditional`."""
    CLIP = {"radius": 1, "margin": 0.0}

    def test_a_flat_condition_takes_the_pattern_off_and_the_unclipped_sampler_keeps_it(self):
        from mav_training.sample import upsample_sr_low
        planted = np.random.default_rng(1).normal(0, 0.01, (3, 4, 4))
        model = PlantedPattern(planted)
        flat = torch.full((1, 3, 2, 8, 8), 0.3)
        kept = upsample_sr_low(model, flat, torch.Generator().manual_seed(0), 5, clip=None)
        held = upsample_sr_low(model, flat, torch.Generator().manual_seed(0), 5, clip=self.CLIP)
        self.assertGreater(float((kept - 0.3).abs().max()), 0.01)
        self.assertLess(float((held - 0.3).abs().max()), 1e-5)

    def test_an_edge_stays_as_the_model_draws_it_inside_the_range_and_an_overshoot_is_cut(self):
        from mav_training.sample import upsample_sr_high
        edge = torch.full((1, 3, 8, 8), -0.5)
        edge[..., 4:] = 0.5
        model = PlantedPattern(np.zeros((3, 3, 3)))
        noise = torch.randn(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
        kept = upsample_sr_high(model, edge, noise, 2, clip=None)
        held = upsample_sr_high(model, edge, noise, 2, clip=self.CLIP)
        self.assertLess(float((held - kept).abs().max()), 1e-4)  # bilinear never leaves the range
        overshoot = PlantedPattern(np.full((3, 3, 3), 0.2))
        held = upsample_sr_high(overshoot, edge, noise, 2, clip=self.CLIP)
        self.assertLessEqual(float(held.max()), 0.5 + 1e-4)
        self.assertAlmostEqual(float(held[..., :, 15:].min()), 0.5, places=4)  # the object's side, one pixel off the edge

    def test_a_guided_step_keeps_the_conditional_estimates_colours_and_loses_the_rim_past_them(self):
        from mav_training.schedulers import DDIMScheduler, held_to_conditional
        sched = DDIMScheduler(1000, "squaredcos_cap_v2", "epsilon", True, 1.0)
        t, a = 300, float(sched.ac[300])
        x0 = torch.full((1, 3, 2, 8, 8), -0.5)  # a clip as D^t's [1, 3, F, h, w]: an edge
        x0[..., 4:] = 0.5
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
        x = a ** 0.5 * x0 + (1 - a) ** 0.5 * noise
        steeper = (x - a ** 0.5 * 1.4 * x0) / (1 - a) ** 0.5  # guidance pushing both sides past their colours
        held = held_to_conditional(sched, x, t, noise, steeper, self.CLIP)
        held_x0 = (x - (1 - a) ** 0.5 * held) / a ** 0.5
        self.assertLess(float((held_x0 - x0).abs().max()), 1e-4)
        self.assertTrue(torch.allclose(held_to_conditional(sched, x, t, noise, noise, self.CLIP), noise, atol=1e-5))

    def test_a_rim_off_the_colour_line_or_past_its_ends_is_taken_off_and_the_line_kept(self):
        from mav_training.schedulers import ColourLine
        gray, blue = [0.0, 0.0, 0.0], [-1.0, -1.0, 1.0]
        low_res = torch.tensor([gray, gray, blue, blue]).T.reshape(1, 3, 1, 4)  # one row of 4, [1, 3, h, w]
        line = ColourLine(low_res, 2, 1, 0.0)
        drawn = [gray, gray, gray, [-0.5, -0.5, 0.5], blue, [-1.2, -1.2, 1.2], blue, [0.3, 0.3, -0.3]]
        x0 = torch.tensor(drawn).T.reshape(1, 3, 1, 8).repeat(1, 1, 2, 1)  # two output rows of 8
        held = line.hold(x0)[0, :, 0].T
        self.assertTrue(torch.allclose(held[3], torch.tensor([-0.5, -0.5, 0.5]), atol=1e-6))  # on the line
        self.assertTrue(torch.allclose(held[5], torch.tensor(blue), atol=1e-6))  # past the blue
        self.assertTrue(torch.allclose(held[7], torch.tensor(blue), atol=1e-6))  # the yellow rim, in an all-blue window
