"""Pseudo-3D building blocks (after lucidrains/make-a-video-pytorch), written with plain reshape/permute and
matmul so they export to ONNX opset 17.

Layout: inside a UNet a video batch travels as frames stacked into the batch, (b f) c h w; `frames` tells a
temporal layer how to unfold it. frames=None means images: every temporal op is skipped (enable_time off).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def exists(x):
    return x is not None


def default(x, d):
    return x if exists(x) else d


def sinusoidal(x, dim, max_period=10000.0):
    """[B] float → [B, dim] sinusoidal features."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=x.device) / half)
    args = x.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def groups_for(ch):
    for g in (8, 4, 2, 1):
        if ch % g == 0:
            return g
    return 1


class TemporalConv(nn.Module):
    """1D conv over frames for every pixel, run as a k×1 2-D conv over (b, c, f, h·w).

    Dirac-initialised (weights the identity kernel, bias zero) so that adding it to a trained image model leaves
    the model's output unchanged at the start of video training.

    motion: also add τ_f · M·x_f, a zero-initialised 1×1 map of each frame's features scaled by the frame's time τ_f in
    seconds from the middle of the clip, (f − (F−1)/2) / fps (`time`, [b, F]). Why: an object moving at constant
    speed changes the features at a pixel by about τ × velocity × their spatial gradient, a product of content and
    time. The kernel above sees only neighbouring frames and, over equal frames, returns equal frames (but at the
    clip's two ends); attention with position bias can only make that product indirectly. From frames that start
    nearly equal, as the sampler's do, D^t could not draw motion without it. Time rather than frame index, so that
    the same motion covers more pixels a frame at a lower fps, as in the world (docs/models.md §4).
    """

    def __init__(self, ch, kernel=3, motion=False):
        super().__init__()
        self.conv = nn.Conv1d(ch, ch, kernel, padding=kernel // 2)
        nn.init.dirac_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.motion = nn.Conv1d(ch, ch, 1, bias=False) if motion else None
        if exists(self.motion):
            nn.init.zeros_(self.motion.weight)

    def forward(self, x, frames, time=None):
        bf, c, h, w = x.shape
        # frames as the rows of a (b, c, f, h·w) image: the transposes move whole frames, not single values, which
        # makes the layer several times faster in ONNX Runtime than a (b h w) c f layout (docs/performance.md)
        x = x.reshape(-1, frames, c, h * w).transpose(1, 2)
        y = F.conv2d(x, self.conv.weight.unsqueeze(-1), self.conv.bias, padding=(self.conv.padding[0], 0))
        if exists(self.motion):
            if time is None:
                raise ValueError("a TemporalConv with a motion term needs each frame's time (seconds from the middle)")
            y = y + F.conv2d(x, self.motion.weight.unsqueeze(-1)) * time[:, None, :, None]
        return y.transpose(1, 2).reshape(bf, c, h, w)


@torch.no_grad()
def blend_temporal_convs(model, alpha, motion_alpha=None):
    """Move every TemporalConv of `model` from its trained kernel towards the identity it started from:
    W ← α·W + (1 − α)·dirac, b ← α·b (weight-space interpolation between the image model and the video fine-tune,
    as WiSE-FT does between a zero-shot and a fine-tuned model). The map is affine in the weights, so α' = 1/α
    undoes it exactly. The motion term (D^t) is blended too, M ← α_M·M (α_M = α unless given), as it also started at
    zero: it sets how far sampled clips move, which the kernels' blend trades against shape (docs/training-log.md)."""
    motion_alpha = alpha if motion_alpha is None else motion_alpha
    for m in model.modules():
        if isinstance(m, TemporalConv):
            ident = torch.zeros_like(m.conv.weight)
            nn.init.dirac_(ident)
            m.conv.weight.copy_(alpha * m.conv.weight + (1 - alpha) * ident)
            m.conv.bias.mul_(alpha)
            if exists(m.motion):
                m.motion.weight.mul_(motion_alpha)
    return model


class PseudoConv3d(nn.Module):
    """Spatial 2D conv on every frame, then (videos only) a dirac-initialised temporal 1D conv."""

    def __init__(self, dim_in, dim_out, kernel=3, temporal=True, temporal_kernel=3, motion=False):
        super().__init__()
        self.spatial = nn.Conv2d(dim_in, dim_out, kernel, padding=kernel // 2)
        self.temporal = TemporalConv(dim_out, temporal_kernel, motion) if temporal else None

    def forward(self, x, frames=None, time=None):
        x = self.spatial(x)
        if exists(frames) and exists(self.temporal):
            x = self.temporal(x, frames, time)
        return x


def _attend(q, k, v, heads, bias=None):
    """Multi-head attention on [N, L, C] tensors with matmul; bias [heads, L, L] or None."""
    n, l, c = q.shape
    d = c // heads
    q = q.reshape(n, l, heads, d).permute(0, 2, 1, 3)
    k = k.reshape(n, -1, heads, d).permute(0, 2, 3, 1)
    v = v.reshape(n, -1, heads, d).permute(0, 2, 1, 3)
    sim = torch.matmul(q, k) * (d ** -0.5)
    if exists(bias):
        sim = sim + bias
    attn = sim.softmax(dim=-1)
    out = torch.matmul(attn, v)  # n heads l d
    return out.permute(0, 2, 1, 3).reshape(n, l, c)


class SpatialAttention(nn.Module):
    """Self-attention over the h·w positions of each frame (pre-norm, residual).

    context_dim: the layer also attends to context tokens [bf, n, context_dim] (keys and values only, as DALL-E 2's
    decoder attends to its four CLIP-embedding tokens). Their key/value projection starts at zero, so a trained
    model that grows context tokens starts from nearly its old output."""

    def __init__(self, ch, heads=4, context_dim=None):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups_for(ch), ch)
        self.qkv = nn.Linear(ch, ch * 3)
        self.out = nn.Linear(ch, ch)
        self.context_kv = nn.Linear(context_dim, ch * 2) if exists(context_dim) else None
        if exists(self.context_kv):
            nn.init.zeros_(self.context_kv.weight)
            nn.init.zeros_(self.context_kv.bias)

    def forward(self, x, context=None):
        bf, c, h, w = x.shape
        t = self.norm(x).reshape(bf, c, h * w).permute(0, 2, 1)
        q, k, v = self.qkv(t).chunk(3, dim=-1)
        if exists(self.context_kv) and exists(context):
            ck, cv = self.context_kv(context).chunk(2, dim=-1)
            k, v = torch.cat([k, ck], dim=1), torch.cat([v, cv], dim=1)
        o = self.out(_attend(q, k, v, self.heads))
        return x + o.permute(0, 2, 1).reshape(bf, c, h, w)


class RelativePositionBias(nn.Module):
    """Continuous relative position bias (small MLP over signed log distance), any number of frames."""

    def __init__(self, heads, hidden=32):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(1, hidden), nn.SiLU(), nn.Linear(hidden, heads))

    def forward(self, frames):
        pos = torch.arange(frames, dtype=torch.float32, device=self.mlp[0].weight.device)
        rel = pos[None, :] - pos[:, None]
        rel = torch.sign(rel) * torch.log1p(rel.abs())
        return self.mlp(rel.unsqueeze(-1)).permute(2, 0, 1)  # heads f f


FRAME_POSITION_DIM = 32


class TemporalAttention(nn.Module):
    """Self-attention over frames at every pixel, with relative position bias.

    The output projection is zero-initialised: with the residual the block starts as the identity, so a trained
    image model is unchanged when temporal attention is added.

    frame_position: also add a learned projection of each frame's sinusoidal index (counted from the first frame)
    to the tokens, as AnimateDiff's motion modules do. Why: relative bias alone cannot tell frames apart when their
    features are alike (attention over equal values returns the same value to every frame), and a sampler whose
    frames start from nearly the same noise gives exactly that; motion then has to be told by the frame's index. The
    projection starts at zero, so a model that grows it is unchanged.
    """

    def __init__(self, ch, heads=4, frame_position=False):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(ch)
        self.qkv = nn.Linear(ch, ch * 3)
        self.out = nn.Linear(ch, ch)
        self.rel_pos = RelativePositionBias(heads)
        self.frame_pos = nn.Linear(FRAME_POSITION_DIM, ch) if frame_position else None
        for layer in (self.out, self.frame_pos):
            if exists(layer):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x, frames):
        bf, c, h, w = x.shape
        t = x.reshape(-1, frames, c, h, w).permute(0, 3, 4, 1, 2).reshape(-1, frames, c)  # (b h w) f c
        if exists(self.frame_pos):
            index = torch.arange(frames, dtype=torch.float32, device=x.device)
            t = t + self.frame_pos(sinusoidal(index, FRAME_POSITION_DIM))
        q, k, v = self.qkv(self.norm(t)).chunk(3, dim=-1)
        o = self.out(_attend(q, k, v, self.heads, self.rel_pos(frames)))
        o = o.reshape(-1, h, w, frames, c).permute(0, 3, 4, 1, 2).reshape(bf, c, h, w)
        return x + o


class PseudoAttention(nn.Module):
    """Spatial attention per frame, then (videos only) temporal attention per pixel."""

    def __init__(self, ch, heads=4, temporal=True, context_dim=None, frame_position=False):
        super().__init__()
        self.spatial = SpatialAttention(ch, heads, context_dim)
        self.temporal = TemporalAttention(ch, heads, frame_position) if temporal else None

    def forward(self, x, frames=None, context=None):
        x = self.spatial(x, context)
        if exists(frames) and exists(self.temporal):
            x = self.temporal(x, frames)
        return x


class ResBlock(nn.Module):
    """GroupNorm-SiLU-PseudoConv3d twice, with scale/shift from the conditioning embedding, and a skip."""

    def __init__(self, dim_in, dim_out, emb_dim, temporal=True, motion=False):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups_for(dim_in), dim_in)
        self.conv1 = PseudoConv3d(dim_in, dim_out, temporal=temporal, motion=motion)
        self.emb = nn.Linear(emb_dim, dim_out * 2)
        self.norm2 = nn.GroupNorm(groups_for(dim_out), dim_out)
        self.conv2 = PseudoConv3d(dim_out, dim_out, temporal=temporal, motion=motion)
        self.skip = nn.Conv2d(dim_in, dim_out, 1) if dim_in != dim_out else nn.Identity()

    def forward(self, x, emb, frames=None, time=None):
        h = self.conv1(F.silu(self.norm1(x)), frames, time)
        scale, shift = self.emb(F.silu(emb)).chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        h = self.conv2(F.silu(h), frames, time)
        return self.skip(x) + h
