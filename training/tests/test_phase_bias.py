"""SR^t_l's fixed sub-pixel pattern: measured where it is planted, and folded into the head so that every output
pixel moves by its position's share."""
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from mav_training import checkpoints as C
from mav_training import phase_bias as P
from mav_training.schedulers import alphas_cumprod
from mav_training.unet import SpaceTimeUNet, sr_low_config

ALPHAS = torch.tensor(alphas_cumprod("squaredcos_cap_v2"), dtype=torch.float32)


class PlantedPattern(torch.nn.Module):
    """An upsampler whose x̂0 is the bilinear upsampling of its input plus a known 4-px pattern, returned as ε̂ the
    way SR^t_l returns it."""

    def __init__(self, pattern):
        super().__init__()
        self.pattern = torch.as_tensor(pattern, dtype=torch.float32)

    def forward(self, x, t, cond):
        b, c, f, h, w = cond.shape
        up = F.interpolate(cond.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w), scale_factor=4.0, mode="bilinear",
                           align_corners=False).reshape(b, f, c, 4 * h, 4 * w).permute(0, 2, 1, 3, 4)
        x0 = up + self.pattern.repeat(1, h, w)[None, :, None]
        a = ALPHAS[t][:, None, None, None, None]
        return (x - a.sqrt() * x0) / (1 - a).sqrt()


class PhaseBiasTest(unittest.TestCase):
    def test_a_planted_pattern_is_measured_on_flat_pixels_and_its_mean_left_alone(self):
        rng = np.random.default_rng(0)
        planted = rng.normal(0, 0.004, (3, 4, 4))
        measured = P.measure(PlantedPattern(planted + 0.01), clips=3)  # + a colour offset, which is not the grid
        np.testing.assert_allclose(measured, planted - planted.mean((1, 2), keepdims=True), atol=2e-4)

    def test_folding_moves_each_output_pixel_by_its_positions_share(self):
        torch.manual_seed(0)
        model = SpaceTimeUNet(**sr_low_config()).eval()
        x, low, t = torch.randn(1, 3, 2, 32, 32), torch.randn(1, 3, 2, 8, 8), torch.tensor([300])
        pattern = torch.randn(3, 4, 4) * 0.01
        with torch.no_grad():
            before = model(x, t, cond=low, return_x0=True)
            C.fold_phase_bias(model, pattern)
            after = model(x, t, cond=low, return_x0=True)
        expected = -pattern.repeat(1, 8, 8)[None, :, None].expand_as(before)  # tiled over 32², every frame
        torch.testing.assert_close(after - before, expected, atol=1e-5, rtol=0)


if __name__ == "__main__":
    unittest.main()
