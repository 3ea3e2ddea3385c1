"""The fixed pattern of an SR model's pixel-shuffle head (SR^t_l's 4 px, SR_h's 3 px), measured and folded into its
bias.

SR^t_l works on a 4×4 space-to-depth grid (SR_h on 3×3): each of the 16 (9) sub-pixel positions of an output pixel
has its own output channel. Their small systematic errors add up to the same pattern everywhere, the grid a user sees
on flat backgrounds. The pattern is a property of the weights (on gray, SR^t_l's is the same within ±0.1 levels for the
world's renders and for the chain's frames; what is left after the fold changes with the background's brightness,
docs/models.md §9), so it is measured once, on renders of the world the model trained on, at the sampling steps it
serves: the mean error of each sub-pixel position against the render, over flat pixels (away from the outline and
from the ends of the range, where the output is clipped), less its mean over positions (the pattern only, colours
untouched). Subtracting it from `conv_out`'s bias removes it from x̂0 at every step: the checkpoint keeps it as
`phase_bias`, and `checkpoints.load_ema` folds it in (export, sampling, evaluation), so the ONNX file carries it.
SrLowStage and SrHighStage measure it at the end of every run (`calibration`); for weights trained before, resume
them for no steps:

  python3 -m mav_training.train --stage sr_low --resume --steps <their step count> [--checkpoints DIR --no-export]
"""
import copy

import numpy as np
import torch

from . import world as W
from .recipe import SEED
from .sample import STEPS, upsample_sr_high, upsample_sr_low
from .unet import sr_high_config, sr_low_config
from .video_eval import dilate

CALIBRATION_INDEX = 70_000_000  # world indices of no training stage and no evaluation
CLIPS, FPS = 16, 40.0  # the chain hands the SR models clips at ↑F's fps: keyframe fps 8 × skip 5
# per stage: the factor (the period of its space-to-depth grid), the input's size, frames per calibration clip
FACTOR = {"sr_low": sr_low_config()["unshuffle"], "sr_high": sr_high_config()["unshuffle"]}
SIZE = {"sr_low": 64, "sr_high": 256}
FRAMES = {"sr_low": 8, "sr_high": 2}  # SR_h upsamples frame by frame: two frames a clip, for more scenes a minute
EDGE_PX = 8  # at 256²: two 64² pixels either side of the outline are not flat


def flat_pixels(high):
    """[3, F, H, W] render → [F, H, W] bool: background or interior, EDGE_PX (at 256², as much of the frame at other
    sizes) from the outline, off the range's ends."""
    fg = np.abs(high - high[:, :, :1, :1]).sum(0) > 0.02
    px = EDGE_PX * high.shape[-1] // 256
    edge = dilate(fg, px) & dilate(~fg, px)
    return ~edge & (np.abs(high) < 0.9).all(0)


def upsample(model, stage, low, gen, steps):
    """A rendered clip [3, F, s, s] through the stage's sampler → [3, F, s·r, s·r] (numpy); without the manifest's
    clip to the condition's range, which would hide part of the weights' own pattern that is measured here."""
    low = torch.from_numpy(low)
    if stage == "sr_low":
        return upsample_sr_low(model, low[None], gen, steps, clip=None)[0].numpy()
    c, f, h, w = low.shape
    noise = torch.randn(1, c, h * FACTOR[stage], w * FACTOR[stage], generator=gen)
    return upsample_sr_high(model, low.permute(1, 0, 2, 3), noise, steps, clip=None).permute(1, 0, 2, 3).numpy()


@torch.no_grad()
def measure(model, stage="sr_low", clips=None, steps=None, seed=SEED):
    """The pattern [3, r, r] in [-1, 1] units (mean error per sub-pixel position less its mean over positions)."""
    clips, r, frames = clips or CLIPS, FACTOR[stage], FRAMES[stage]
    world = W.World(seed)
    total, count = np.zeros((3, r, r)), np.zeros((3, r, r))
    for k in range(clips):
        rng = world.rng(CALIBRATION_INDEX + k, 2)
        scene = W.sample_scene(rng)
        motion = W.sample_motion(scene, rng, frames, FPS)
        low = W.render_video(scene, motion, frames, FPS, SIZE[stage])
        high = W.render_video(scene, motion, frames, FPS, SIZE[stage] * r)
        out = upsample(model, stage, low, torch.Generator().manual_seed(CALIBRATION_INDEX + k), steps or STEPS[stage])
        keep = flat_pixels(high)
        for py in range(r):
            for px in range(r):
                m = keep[:, py::r, px::r]
                err = (out - high)[:, :, py::r, px::r][:, m]  # 3 n
                total[:, py, px] += err.sum(1)
                count[:, py, px] += m.sum()
    mean = total / np.maximum(count, 1)
    return mean - mean.mean((1, 2), keepdims=True)


def calibration(stage):
    """A stage's checkpoint entry: the pattern of its EMA weights as they are after the run."""
    ema = copy.deepcopy(stage.ema.model).cpu().eval()
    return {"phase_bias": torch.from_numpy(measure(ema, stage.name)).float()}
