"""One space-time UNet for every pixel model (decoder D/D^t, interpolator ↑F, SR^t_l, SR_h).

`sample` is [b, c, h, w] (image: every temporal layer is skipped) or [b, c, f, h, w] (video; temporal layers run
when the model has them and enable_time is on). Conditioning: timestep + fps (+ frame skip) embeddings are summed,
the CLIP image embedding is projected and added too, and (image_tokens) projected into a few context tokens that
every spatial attention layer attends to, as in DALL-E 2's decoder; pixel-level conditions (masked frames and mask, or the
bilinearly upsampled low-resolution frames) are concatenated to the sample as channels.

The input is space-to-depth'ed by `unshuffle` (pixel unshuffle, folded into the first convolution) and the
output depth-to-space'd back (pixel shuffle), so that the network computes on a small grid: sr_high 768 → 256²,
sr_low 256 → 64², decoder 64 → 32². Spatial attention only runs at grids of at most 32×32 (levels listed in
`attn_levels`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import PseudoAttention, ResBlock, TemporalAttention, exists, groups_for, sinusoidal

# the fps at which motion_fps_exponent leaves the motion terms' time as it is (the reports' fps, mid-range in log fps)
MOTION_REFERENCE_FPS = 8.0


def unshuffled_conv(conv, x, r):
    """conv(pixel_unshuffle(x, r)) as one convolution of stride r on x, with the 3×3 kernel over the r·r sub-pixel
    channels rearranged into a 3r×3r one: the same sums without the 6-D transpose of the unshuffle, which took ONNX
    Runtime four times as long as this convolution at 768² (docs/performance.md)."""
    o, crr, k, _ = conv.weight.shape
    c = crr // (r * r)
    w = conv.weight.reshape(o, c, r, r, k, k).permute(0, 1, 4, 2, 5, 3).reshape(o, c, k * r, k * r)
    return F.conv2d(x, w, conv.bias, stride=r, padding=conv.padding[0] * r)


class Downsample(nn.Module):
    def __init__(self, ch_in, ch_out):
        super().__init__()
        self.conv = nn.Conv2d(ch_in, ch_out, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, ch_in, ch_out):
        super().__init__()
        self.conv = nn.Conv2d(ch_in, ch_out, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class SpaceTimeUNet(nn.Module):
    """Pseudo-3D UNet.

    Args:
        channels: width per level (level 0 at the unshuffled grid, each next level half the size).
        attn_levels: levels with spatial (+ temporal) attention; grids there must be ≤ 32×32.
        temporal: build temporal layers (dirac conv, zero-init attention); False for per-frame models (SR_h).
        temporal_attn_levels: levels with temporal attention but no spatial attention (crop-safe SR models).
        embed_dim: CLIP image embedding size, or None for no image conditioning.
        image_tokens: number of context tokens made from the image embedding for the spatial attention layers
            (0: none). Why: added to the timestep embedding the image embedding only scales and shifts channels,
            and a decoder trained that way read the object's shape off x_t instead (measured on D at t = 800 with
            another shape's embedding: the shape of x_t came out 9 times in 24, the embedding's 3).
        use_fps / use_frame_skip: add fps / frame-skip embeddings to the timestep embedding.
        frame_position: the temporal layers know each frame's index: temporal attention adds a learned embedding of
            it (TemporalAttention), temporal convolutions a motion term scaled by its time in seconds from the
            middle of the clip, from `fps` (TemporalConv).
        cond_channels: pixel-level channels concatenated to the sample (masked frames+mask 4, low_res 3).
        low_res_factor: if set, `cond` is a low-resolution clip that is upsampled (bilinear) by this factor.
        x0_param: the network's head predicts the clean sample x̂0 (for SR: a residual over the upsampled low_res)
            and the graph returns the noise ε̂ = (x_t − √ᾱ_t·x̂0)/√(1−ᾱ_t) that the contract (prediction_type
            "epsilon") declares. The sampler's x0 = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t is then exactly x̂0. Why: a smooth x̂0
            is far easier to learn on a coarse space-to-depth grid than per-pixel noise, which matters on a CPU
            budget; with a Min-SNR-γ loss it is still ε-prediction training (Hang et al., 2023).
    """

    def __init__(self, channels=(32, 64, 96), attn_levels=(1, 2), temporal=True, temporal_attn_levels=(),
                 embed_dim=None, use_fps=False, use_frame_skip=False, cond_channels=0, low_res_factor=None,
                 unshuffle=1, in_channels=3, heads=4, x0_param=False, image_tokens=0, frame_position=False):
        super().__init__()
        self.x0_param = x0_param
        if x0_param:
            from .schedulers import alphas_cumprod
            self.register_buffer("alphas_cumprod", torch.tensor(alphas_cumprod("squaredcos_cap_v2"),
                                                                dtype=torch.float32), persistent=False)
        self.unshuffle = unshuffle
        self.in_channels = in_channels
        self.cond_channels = cond_channels
        self.low_res_factor = low_res_factor
        self.has_temporal = temporal
        self.frame_position = temporal and frame_position
        # γ of the motion terms' time scale, (fps / MOTION_REFERENCE_FPS)^−γ; set for sampling (recipe), 0 in training
        self.motion_fps_exponent = 0.0
        c0 = channels[0]
        emb = c0 * 4
        self.emb_dim = emb
        self.time_mlp = nn.Sequential(nn.Linear(c0, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.fps_mlp = nn.Sequential(nn.Linear(c0, emb), nn.SiLU(), nn.Linear(emb, emb)) if use_fps else None
        self.skip_mlp = nn.Sequential(nn.Linear(c0, emb), nn.SiLU(), nn.Linear(emb, emb)) if use_frame_skip else None
        self.image_proj = nn.Sequential(nn.Linear(embed_dim, emb), nn.SiLU(), nn.Linear(emb, emb)) \
            if exists(embed_dim) else None
        self.n_tokens = image_tokens if exists(embed_dim) else 0
        self.image_tokens = nn.Linear(embed_dim, self.n_tokens * emb) if self.n_tokens else None
        self.token_norm = nn.LayerNorm(emb) if self.n_tokens else None
        context_dim = emb if self.n_tokens else None
        r2 = unshuffle * unshuffle
        self.conv_in = nn.Conv2d((in_channels + cond_channels) * r2, c0, 3, padding=1)

        def attn(ch, level):
            if level in attn_levels:
                return PseudoAttention(ch, heads, temporal, context_dim, frame_position)
            if temporal and level in temporal_attn_levels:
                return TemporalAttention(ch, heads)
            return None

        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        ch = c0
        skips = []
        for lvl, cout in enumerate(channels):
            block = nn.ModuleDict({"res": ResBlock(ch, cout, emb, temporal, frame_position)})
            a = attn(cout, lvl)
            if a is not None:
                block["attn"] = a
            if lvl < len(channels) - 1:
                block["down"] = Downsample(cout, cout)
            self.down.append(block)
            skips.append(cout)
            ch = cout
        self.mid1 = ResBlock(ch, ch, emb, temporal, frame_position)
        self.mid_attn = attn(ch, len(channels) - 1)
        self.mid2 = ResBlock(ch, ch, emb, temporal, frame_position)
        for lvl in reversed(range(len(channels))):
            cout = channels[lvl]
            block = nn.ModuleDict({"res": ResBlock(ch + skips[lvl], cout, emb, temporal, frame_position)})
            a = attn(cout, lvl)
            if a is not None:
                block["attn"] = a
            if lvl > 0:
                block["up"] = Upsample(cout, channels[lvl - 1])
                ch = channels[lvl - 1]
            else:
                ch = cout
            self.up.append(block)
        self.norm_out = nn.GroupNorm(groups_for(ch), ch)
        self.conv_out = nn.Conv2d(ch, in_channels * r2, 3, padding=1)

    @staticmethod
    def _layer(mod, x, frames, context):
        if isinstance(mod, PseudoAttention):
            return mod(x, frames, context)
        if isinstance(mod, TemporalAttention):
            return mod(x, frames) if exists(frames) else x
        return mod(x)

    def forward(self, sample, timestep, image_embed=None, fps=None, frame_skip=None, cond=None, enable_time=True,
                return_x0=False):
        is_video = sample.ndim == 5
        if is_video:
            b, c, f, h, w = sample.shape
            x = sample.permute(0, 2, 1, 3, 4).reshape(-1, c, h, w)  # (b f) c h w
            if exists(cond):
                cc = cond.shape[1]
                cond = cond.permute(0, 2, 1, 3, 4).reshape(-1, cc, cond.shape[3], cond.shape[4])
        else:
            b, c, h, w = sample.shape
            f = 1
            x = sample
        frames = f if (is_video and enable_time and self.has_temporal) else None
        time = None  # each frame's time in seconds from the middle of the clip, for the motion terms
        if exists(frames) and self.frame_position:
            time = (torch.arange(f, dtype=torch.float32, device=x.device) - (f - 1) / 2)[None] / fps.float()[:, None]
            if self.motion_fps_exponent:
                # D^t draws faster clips at a higher fps although the world does not: time is rescaled per fps
                time = time * (fps.float()[:, None] / MOTION_REFERENCE_FPS) ** -self.motion_fps_exponent

        # conditioning embedding, one per clip, repeated for every frame
        c0 = self.time_mlp[0].in_features
        e = self.time_mlp(sinusoidal(timestep.float(), c0))
        if exists(self.fps_mlp):
            e = e + self.fps_mlp(sinusoidal(fps.float() * 10.0, c0))
        if exists(self.skip_mlp):
            e = e + self.skip_mlp(sinusoidal(frame_skip.float() * 10.0, c0))
        if exists(self.image_proj):
            e = e + self.image_proj(image_embed)
        ctx = None
        if self.n_tokens:
            ctx = self.token_norm(self.image_tokens(image_embed).reshape(b, self.n_tokens, -1))
        if is_video:
            e = e.unsqueeze(1).expand(-1, f, -1).reshape(-1, e.shape[-1])
            if exists(ctx):
                ctx = ctx.unsqueeze(1).expand(-1, f, -1, -1).reshape(b * f, self.n_tokens, -1)

        x_t = x
        if self.cond_channels:
            if exists(self.low_res_factor):
                cond = F.interpolate(cond, scale_factor=float(self.low_res_factor), mode="bilinear",
                                     align_corners=False)
            x = torch.cat([x, cond], dim=1)
        x = unshuffled_conv(self.conv_in, x, self.unshuffle) if self.unshuffle > 1 else self.conv_in(x)
        hs = []
        for block in self.down:
            x = block["res"](x, e, frames, time)
            if "attn" in block:
                x = self._layer(block["attn"], x, frames, ctx)
            hs.append(x)
            if "down" in block:
                x = block["down"](x)
        x = self.mid1(x, e, frames, time)
        if exists(self.mid_attn):
            x = self._layer(self.mid_attn, x, frames, ctx)
        x = self.mid2(x, e, frames, time)
        for block in self.up:
            x = block["res"](torch.cat([x, hs.pop()], dim=1), e, frames, time)
            if "attn" in block:
                x = self._layer(block["attn"], x, frames, ctx)
            if "up" in block:
                x = block["up"](x)
        x = self.conv_out(F.silu(self.norm_out(x)))
        if self.unshuffle > 1:
            x = F.pixel_shuffle(x, self.unshuffle)
        if self.x0_param:
            x0 = x + cond if exists(self.low_res_factor) else x
            a = self.alphas_cumprod[timestep]
            if is_video:
                a = a.unsqueeze(1).expand(-1, f).reshape(-1)
            a = a[:, None, None, None]
            x = (x_t - a.sqrt() * x0) / (1 - a).sqrt()
            if return_x0:
                x = x0
        if is_video:
            x = x.reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)
        return x

    def temporal_parameters(self):
        """Parameters of the temporal layers (dirac convs, temporal attention), new when D becomes D^t."""
        from .layers import TemporalConv
        return [p for m in self.modules() if isinstance(m, (TemporalConv, TemporalAttention)) for p in m.parameters()]


# ---- model configurations -------------------------------------------------------------------------------------

def decoder_config(embed_dim, tiny=False):
    # 64 px → 16² grid (space-to-depth 4): on CPU this trains ~4× faster than a 32² grid for the same width
    ch = (8, 16) if tiny else (64, 128, 128)
    return dict(channels=ch, attn_levels=(1,) if tiny else (1, 2), temporal=True, embed_dim=embed_dim,
                use_fps=True, unshuffle=2 if tiny else 4, heads=2 if tiny else 4, x0_param=not tiny, image_tokens=4,
                frame_position=True)


def interpolator_config(embed_dim, tiny=False):
    # no image tokens: ↑F draws its frames from the keyframes it is given, not from the embedding; no frame
    # position: its masked keyframes already tell its frames apart
    return dict(decoder_config(embed_dim, tiny), use_frame_skip=True, cond_channels=4, image_tokens=0,
                frame_position=False)


def sr_low_config(tiny=False):
    ch = (8, 16) if tiny else (32, 64, 64)
    return dict(channels=ch, attn_levels=(), temporal=True, temporal_attn_levels=(len(ch) - 1,),
                cond_channels=3, low_res_factor=4, unshuffle=4, heads=2 if tiny else 4, x0_param=not tiny)


def sr_high_config(tiny=False):
    ch = (4, 8) if tiny else (16, 32, 64)
    return dict(channels=ch, attn_levels=(), temporal=False, cond_channels=3, low_res_factor=3, unshuffle=3,
                heads=2, x0_param=not tiny)
