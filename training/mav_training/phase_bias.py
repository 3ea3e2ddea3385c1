"""The fixed 4-px pattern of SR^t_l's pixel-shuffle head, measured and folded into its bias.

SR^t_l works on a 4×4 space-to-depth grid: each of the 16 sub-pixel positions of an output pixel has its own output
channel. Their small systematic errors add up to the same 4-px pattern everywhere, the grid a user sees on flat
backgrounds. The pattern is a property of the weights, not of the input (on gray it is the same within ±0.1 levels for
the world's renders and for the chain's frames), so it is measured once, on renders of the world the model trained on,
at the sampling steps it serves: the mean error of each sub-pixel position against the render, over flat pixels (away
from the outline and from the ends of the range, where the output is clipped), less its mean over positions (the
pattern only, colours untouched). Subtracting it from `conv_out`'s bias removes it from x̂0 at every step: the
checkpoint keeps it as `phase_bias`, and `checkpoints.load_ema` folds it in (export, sampling, evaluation), so the ONNX
file carries it.
SrLowStage measures it at the end of every run; for weights trained before, resume them for no steps:

  python3 -m mav_training.train --stage sr_low --resume --steps <their step count> [--checkpoints DIR --no-export]
"""
import numpy as np
import torch

from . import world as W
from .recipe import SEED
from .sample import STEPS, upsample_sr_low
from .video_eval import dilate

CALIBRATION_INDEX = 70_000_000  # world indices of no training stage and no evaluation
CLIPS, FRAMES, FPS = 16, 8, 40.0  # the chain hands SR^t_l clips at ↑F's fps: keyframe fps 8 × skip 5
EDGE_PX = 8  # at 256²: two 64² pixels either side of the outline are not flat


def flat_pixels(high):
    """[3, F, H, W] render → [F, H, W] bool: background or interior, EDGE_PX from the outline, off the range's ends."""
    fg = np.abs(high - high[:, :, :1, :1]).sum(0) > 0.02
    edge = dilate(fg, EDGE_PX) & dilate(~fg, EDGE_PX)
    return ~edge & (np.abs(high) < 0.9).all(0)


@torch.no_grad()
def measure(model, clips=None, steps=STEPS["sr_low"], seed=SEED):
    """The pattern [3, 4, 4] in [-1, 1] units (mean error per sub-pixel position less its mean over positions)."""
    clips, r = clips or CLIPS, 4  # r: SR^t_l's factor, the period of its space-to-depth grid
    world = W.World(seed)
    total, count = np.zeros((3, r, r)), np.zeros((3, r, r))
    for k in range(clips):
        rng = world.rng(CALIBRATION_INDEX + k, 2)
        scene = W.sample_scene(rng)
        motion = W.sample_motion(scene, rng, FRAMES, FPS)
        low = torch.from_numpy(W.render_video(scene, motion, FRAMES, FPS, 64))[None]
        high = W.render_video(scene, motion, FRAMES, FPS, 64 * r)
        out = upsample_sr_low(model, low, torch.Generator().manual_seed(CALIBRATION_INDEX + k), steps)[0].numpy()
        keep = flat_pixels(high)
        for py in range(r):
            for px in range(r):
                m = keep[:, py::r, px::r]
                err = (out - high)[:, :, py::r, px::r][:, m]  # 3 n
                total[:, py, px] += err.sum(1)
                count[:, py, px] += m.sum()
    mean = total / np.maximum(count, 1)
    return mean - mean.mean((1, 2), keepdims=True)
