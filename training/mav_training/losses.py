"""Diffusion noise and losses shared by the stages (docs/models.md §4 has the recipe and the measurements)."""
import math

import numpy as np
import torch

from . import world as W
from .schedulers import alphas_cumprod

AC = torch.tensor(alphas_cumprod("squaredcos_cap_v2"), dtype=torch.float32)
GAMMA = 5.0  # cap of the SNR weight (Min-SNR-γ)


def mixed_frame_noise(independent, shared, rho):
    """[b, c, f, h, w] noise whose frames are correlated by rho: √(1−ρ)·independent + √ρ·shared (shared has f = 1)."""
    return math.sqrt(1 - rho) * independent + math.sqrt(rho) * shared


def sample_timesteps(n, gen, power=1.0):
    """t in 0..999 with density ∝ t^(power−1): power 1 is uniform, 2 puts 3/4 of the batch at t ≥ 500."""
    u = torch.rand(n, generator=gen)
    return (1000 * u ** (1.0 / power)).long().clamp(0, 999)


def diffusion_loss(model, x0, gen, offset=0.0, frame_correlation=0.0, t_power=1.0, decoy=None, decoy_from=None,
                   pixel_weight=None, temporal_weight=0.0, decoy_share=0.5, **kw):
    """ε-prediction loss for an x0-parameterised network: min(max(SNR_t, 1), γ)·|x̂0 − x0|² ("truncated SNR" of
    Salimans & Ho 2022, capped like Min-SNR-γ of Hang et al. 2023). Why the floor: without it the first sampling
    steps (t near 1000) get almost no gradient.

    offset: std of a per-clip, per-channel constant added to ε ("offset noise"). Why: otherwise the mean of x_t gives
    the background away at high t and the model ignores the image embedding.

    frame_correlation: ρ of clips' noise, ε_f = √ρ·ε_shared + √(1−ρ)·ε_f (PYoCo, Ge et al. 2023). Why: a video model
    fine-tuned from an image model learns coherent frames in fewer steps from partly shared noise.

    t_power: timestep density ∝ t^(t_power−1) (sample_timesteps).

    decoy: clips or images like x0 with another shape, facing or motion; rows with t ≥ decoy_from (one threshold per
    row) take their x_t from the decoy with probability decoy_share while the target stays x0. Why: where x_t always
    agrees with the embedding the model learns to copy x_t, and in sampling x_t holds only the blur of the steps
    before.

    pixel_weight: a per-pixel weight of the squared error, broadcast over channels (foreground_weight).

    temporal_weight: for clips, the part of the error that changes over the frames (the error minus its mean over the
    clip) counts 1 + temporal_weight times. The squared error splits exactly into that part and the constant one, so
    this only reweights. Why: a moving object is a few pixels a frame, and under the plain loss drawing it still costs
    little."""
    t = sample_timesteps(x0.shape[0], gen, t_power)
    eps = torch.randn(x0.shape, generator=gen)
    if frame_correlation and x0.ndim == 5:
        eps = mixed_frame_noise(eps, torch.randn(x0.shape[:2] + (1,) + x0.shape[3:], generator=gen),
                                frame_correlation)
    if offset:
        eps = eps + offset * torch.randn(x0.shape[:2] + (1,) * (x0.ndim - 2), generator=gen)
    dev = next(model.parameters()).device
    x0, t, eps = x0.to(dev), t.to(dev), eps.to(dev)
    kw = {k: v.to(dev) if torch.is_tensor(v) else v for k, v in kw.items()}
    a = AC.to(dev)[t].view(-1, *([1] * (x0.ndim - 1)))
    source = x0
    if decoy is not None:
        use = (t >= decoy_from.to(dev)) & (torch.rand(x0.shape[0], generator=gen) < decoy_share).to(dev)
        source = torch.where(use.view(-1, *([1] * (x0.ndim - 1))), decoy.to(dev), x0)
    x_t = a.sqrt() * source + (1 - a).sqrt() * eps
    snr = a / (1 - a)
    w = torch.clamp(snr, min=1.0, max=GAMMA)
    if pixel_weight is not None:
        w = w * pixel_weight.to(dev)
    if getattr(model, "x0_param", False):
        err = model(x_t, t, return_x0=True, **kw) - x0
        loss = (w * err ** 2).mean()
        if temporal_weight and x0.ndim == 5:
            loss = loss + temporal_weight * (w * (err - err.mean(2, keepdim=True)) ** 2).mean()
        return loss
    pred = model(x_t, t, **kw)
    return ((w / snr) * (pred - eps) ** 2).mean()


def noisy(x0, gen):
    """(x_t, t, eps) with t uniform in 0..999 under the cosine schedule."""
    t = torch.randint(0, 1000, (x0.shape[0],), generator=gen).to(x0.device)
    eps = torch.randn(x0.shape, generator=gen).to(x0.device)
    a = AC.to(x0.device)[t].view(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * eps, t, eps


def foreground_weight(imgs, decoys, scenes, weight):
    """[n, 1, h, w] pixel weights 1 + weight·(pixel differs from the scene's background in the image or its decoy),
    scaled to mean 1 per image so the loss keeps its scale. Why: the object is a few percent of the pixels, so under a
    uniform loss the error is mostly background."""
    bg = torch.from_numpy(np.stack([W.unit_rgb(W.BACKGROUNDS[s["background"]]) for s in scenes])).float()
    differs = lambda x: (x - bg[:, :, None, None]).abs().amax(1, keepdim=True) > 0.1
    w = 1 + weight * (differs(imgs) | differs(decoys)).float()
    return w / w.mean((2, 3), keepdim=True)


def augmented(low_res, gen):
    """Conditioning augmentation of the SR models: Gaussian noise of std 0.05·U(0, 1), one level per sample."""
    noise = torch.randn(low_res.shape, generator=gen)  # drawn before the levels, as the stages always have
    return low_res + noise * 0.05 * torch.rand((low_res.shape[0],) + (1,) * (low_res.ndim - 1), generator=gen)
