"""PyTorch reference sampler of the whole pipeline, with the same schedulers and guidance as the Java services
(the speed and quality peer of the ONNX pipeline).

  python3 -m mav_training.sample --prompt "a red fish swimming left" --out out/red_fish.mp4 [--fps 8 --seed 1]

Steps: 1 tokenize and encode; 2 prior (DDIM, guidance: row 0 conditional, row 1 zero text condition); 3 decoder
D^t: 16 keyframes at 64² (guidance with zero image embedding, each guided x̂0 held to the conditional x̂0's colour
lines, `hold_guided_to_conditional`); 4 interpolator ↑F: skip 5 → 76 frames, unguided,
from the keyframes' linear blend noised to the manifest's `inbetween_strength` (SDEdit), keyframes pasted back; 5 SR^t_l to 256²; 6 SR_h to 768² per frame with the same initial noise for every frame (both with x̂0 held to their condition's
colour lines, `clip_sample_to_condition`); 7 H.264 MP4 through the ffmpeg binary.
"""
import argparse
import json
import os
import subprocess
import time

import numpy as np
import torch

from . import checkpoints as C
from .export import DEFAULT_SCHED
from .losses import mixed_frame_noise
from .schedulers import ColourLine, DDIMScheduler, held_in, held_to_conditional

STEPS = {name: sched["default_steps"] for name, sched in DEFAULT_SCHED.items()}  # the manifests' steps


def scheduler_for(manifest_sched):
    s = manifest_sched
    return DDIMScheduler(1000, s["beta_schedule"], s["prediction_type"], s["clip_sample"], s["clip_sample_range"])


def denoise(model_fn, sched, steps, x, progress=None):
    sched.set_timesteps(steps)
    return _loop(model_fn, sched, sched.timesteps, x, progress)


def denoise_from(model_fn, sched, steps, strength, init, noise):
    """From `init`, a clean estimate, noised with `noise` to the first of the timesteps `strength` leaves, denoised
    over those (SDEdit, diffusers' img2img; Java's DenoisingLoop.runFrom)."""
    sched.set_timesteps(steps)
    timesteps = sched.timesteps_from(strength)
    if not timesteps:
        return init.clone()
    return _loop(model_fn, sched, timesteps, sched.noised(init, noise, timesteps[0]), None)


def _loop(model_fn, sched, timesteps, x, progress):
    for i, t in enumerate(timesteps):
        out = model_fn(x, t)
        x, _ = sched.step(out, t, x, 0.0)
        if progress:
            progress(i + 1, len(timesteps))
    return x


def guided_at(t, scale, min_timestep):
    """Classifier-free guidance applies at this step: a scale other than 1, and t inside the guidance interval
    [min_timestep, T) (guidance only at high noise, Kynkäänniemi et al. 2024): low-noise guided steps steepen the
    decoder's edges into a complementary-colour rim, the halo SR then magnifies (docs/models.md §9)."""
    return scale != 1.0 and t >= min_timestep


def condition_clip(model):
    """The manifest's `clip_sample_to_condition` of an SR model ({radius, margin}), or None."""
    return DEFAULT_SCHED[model].get("clip_sample_to_condition")


def sr_denoiser(model, low_res, factor, sched, clip):
    """An SR model's ε at (x, t) given `low_res`, its x̂0 held to the condition's local colour lines when `clip` says
    so."""
    def fn(x, t):
        return model(x, torch.full((x.shape[0],), t), cond=low_res)
    if not clip:
        return fn
    return held_in(fn, sched, ColourLine(low_res, factor, clip["radius"], clip["margin"]).hold)


def upsample_sr_low(model, clip64, gen, steps=STEPS["sr_low"], clip=condition_clip("sr_low")):
    """SR^t_l's sampler: [1, 3, F, 64, 64] → [1, 3, F, 256, 256] from noise drawn on `gen`, the manifest's schedule
    and clip."""
    b, c, f, h, w = clip64.shape
    x = torch.randn(b, c, f, h * 4, w * 4, generator=gen)
    sched = scheduler_for(DEFAULT_SCHED["sr_low"])
    return denoise(sr_denoiser(model, clip64, 4, sched, clip), sched, steps, x).clamp(-1, 1)


def upsample_sr_high(model, frames, noise, steps=STEPS["sr_high"], clip=condition_clip("sr_high")):
    """SR_h's sampler: frames [n, 3, 256, 256] → [n, 3, 768, 768], every one from the same initial noise
    [1, 3, 768, 768] (the same noise for every frame keeps invented detail consistent), the manifest's schedule and
    clip."""
    n = frames.shape[0]
    sched = scheduler_for(DEFAULT_SCHED["sr_high"])
    return denoise(sr_denoiser(model, frames, 3, sched, clip), sched, steps,
                   noise.expand(n, -1, -1, -1).clone()).clamp(-1, 1)


def keyframe_blend(keys, skip):
    """[b, c, k, h, w] → [b, c, (k − 1)·skip + 1, h, w]: the keyframes in their slots, each frame between two of
    them their linear blend (Java's FrameInterpolator.keyframeBlend)."""
    k = keys.shape[2]
    pos = torch.arange((k - 1) * skip + 1)
    i = (pos // skip).clamp(max=k - 2)
    w = ((pos - i * skip).float() / skip).view(1, 1, -1, 1, 1)
    return (1 - w) * keys[:, :, i] + w * keys[:, :, i + 1]


def window_starts(k, m):
    """The first keyframe of each window of m keyframes over k (Java's FrameInterpolator.windowStarts): windows
    share their end keyframes, and the last one is moved back to end at keyframe k − 1 if they do not tile."""
    if not m or m >= k:
        return [0]
    starts = list(range(0, k - m + 1, m - 1))
    if starts[-1] + m < k:
        starts.append(k - m)
    return starts


def windowed(model_fn, k, m, skip):
    """model_fn over windows of m keyframes, all windows in one batched call: ↑F is trained on clips of 4 keyframes,
    so it is served on clips of that length rather than on the whole (k − 1)·skip + 1 frames. A frame two windows
    share (a known keyframe) takes the later window's output."""
    starts = window_starts(k, m)
    span = ((m if m and m < k else k) - 1) * skip + 1

    def fn(x, t):
        assert x.shape[0] == 1, "one clip at a time"
        xs = torch.cat([x[:, :, s * skip:s * skip + span] for s in starts])
        out = model_fn(xs, t, starts, span)
        merged = x.clone()
        for i, s in enumerate(starts):
            merged[:, :, s * skip:s * skip + span] = out[i:i + 1]
        return merged
    return fn


def manifest_parameter(model, key, fallback):
    """A sampling parameter from the shipped manifest in ../models (the one the Java stage reads)."""
    with open(os.path.join(C.exported_dir(C.MODELS_DIR, model), "manifest.json")) as f:
        return json.load(f).get("parameters", {}).get(key, fallback)


class Pipeline:
    """Holds the PyTorch models (EMA weights from checkpoints/) and runs the stages."""

    def __init__(self, checkpoints="checkpoints", decoder_stage=None):
        models, self.E, _, _, _, extra = C.load_for_export(checkpoints, decoder_stage)
        self.frame_noise_correlation = extra["decoder"]["frame_noise_correlation"]
        self.m = {k: v.eval() for k, v in models.items()}
        self.tok = C.load_tokenizer(checkpoints)
        self.sched = DEFAULT_SCHED
        # absent in manifests older than the parameter: 1, from pure noise as those models were shipped
        self.inbetween_strength = manifest_parameter("interpolator", "inbetween_strength", 1.0)
        self.window_keyframes = manifest_parameter("interpolator", "window_keyframes", 0) or None
        self.condition_clip = {name: condition_clip(name) for name in ("sr_low", "sr_high")}
        self.timings = {}

    def _time(self, name, t0):
        self.timings[name] = round(time.time() - t0, 2)

    @torch.no_grad()
    def image_embed(self, prompt, gen, guidance=None, steps=STEPS["prior"], candidates=2):
        """As the Java stage: `candidates` samples at once (rows [cond…, uncond…]), the one closest to the text
        embedding kept, projected back on the unit sphere the decoder was trained on. Guidance: the prior
        manifest's `default_guidance_scale` unless given."""
        t0 = time.time()
        if guidance is None:
            guidance = self.sched["prior"]["default_guidance_scale"]
        ids = torch.tensor([self.tok.encode(prompt)])
        te, tt = self.m["clip"].text(ids)
        n = candidates
        te2 = torch.cat([te.expand(n, -1), torch.zeros(n, te.shape[1])])
        tt2 = torch.cat([tt.expand(n, -1, -1), torch.zeros(n, *tt.shape[1:])])
        prior = self.m["prior"]

        def fn(x, t):
            out = prior(torch.cat([x, x]), torch.full((2 * n,), t), te2, tt2)
            return out[n:] + guidance * (out[:n] - out[n:])
        x = torch.randn(n, self.E, generator=gen)
        emb = denoise(fn, scheduler_for(dict(self.sched["prior"])), steps, x)
        best = emb[(emb @ te[0] / emb.norm(dim=1)).argmax()][None]
        self._time("prior", t0)
        return torch.nn.functional.normalize(best, dim=-1)

    @torch.no_grad()
    def keyframes(self, emb, gen, fps=8.0, guidance=None, steps=STEPS["decoder"], frames=16, guidance_from=None,
                  hold=None):
        """Guidance: the decoder manifest's `default_guidance_scale` unless given, as a request without
        guidanceScale gets in Java, at timesteps ≥ `guidance_from` only (the manifest's `guidance_min_timestep`
        unless given); below it the conditional prediction alone, one batch item (Java's SchedulerConfig.guidedAt).
        `hold`: a guided step's x̂0 held to the conditional x̂0's colour lines ({radius, margin}; the manifest's
        `hold_guided_to_conditional` unless given, False for none)."""
        t0 = time.time()
        sched = self.sched["decoder"]
        if guidance is None:
            guidance = sched["default_guidance_scale"]
        if guidance_from is None:
            guidance_from = sched.get("guidance_min_timestep", 0)
        if hold is None:
            hold = sched.get("hold_guided_to_conditional")
        dec = self.m["decoder"]
        scheduler = scheduler_for(sched)
        e2 = torch.cat([emb, torch.zeros_like(emb)])
        f2 = torch.full((2,), float(fps))

        def fn(x, t):
            if not guided_at(t, guidance, guidance_from):
                return dec(x, torch.full((1,), t), image_embed=emb, fps=f2[:1])
            out = dec(torch.cat([x, x]), torch.full((2,), t), image_embed=e2, fps=f2)
            guided = out[1:] + guidance * (out[:1] - out[1:])
            return held_to_conditional(scheduler, x, t, out[:1], guided, hold) if hold else guided
        x = mixed_frame_noise(torch.randn(1, 3, frames, 64, 64, generator=gen),
                              torch.randn(1, 3, 1, 64, 64, generator=gen), self.frame_noise_correlation)
        out = denoise(fn, scheduler, steps, x).clamp(-1, 1)
        self._time("decoder", t0)
        return out

    @torch.no_grad()
    def interpolate(self, keys, emb, gen, fps=8.0, skip=5, steps=STEPS["interpolator"], strength=None, window=None):
        """`strength`: how far down the chain the keyframes' blend is noised (the manifest's unless given); 1 starts
        from pure noise. `window`: keyframes per window (the manifest's `window_keyframes` unless given; 0 or absent:
        the whole clip in one window)."""
        t0 = time.time()
        if strength is None:
            strength = self.inbetween_strength
        b, c, k, h, w = keys.shape
        f = (k - 1) * skip + 1
        masked = torch.zeros(b, c, f, h, w)
        mask = torch.zeros(b, 1, f, h, w)
        masked[:, :, ::skip] = keys
        mask[:, :, ::skip] = 1
        m = self.m["interpolator"]
        cond = torch.cat([masked, mask], 1)

        def call(xs, t, starts, span):
            n = xs.shape[0]
            return m(xs, torch.full((n,), t), image_embed=emb.expand(n, -1), fps=torch.full((n,), fps * skip),
                     frame_skip=torch.full((n,), float(skip)),
                     cond=torch.cat([cond[:, :, s * skip:s * skip + span] for s in starts]))
        fn = windowed(call, k, self.window_keyframes if window is None else window, skip)
        noise = torch.randn(b, c, f, h, w, generator=gen)
        sched = scheduler_for(self.sched["interpolator"])
        if strength >= 1 or k < 2:
            out = denoise(fn, sched, steps, noise)
        else:
            out = denoise_from(fn, sched, steps, strength, keyframe_blend(keys, skip), noise)
        out = out.clamp(-1, 1)
        out = torch.where(mask.bool().expand_as(out), masked, out)
        self._time("interpolator", t0)
        return out

    @torch.no_grad()
    def sr_low(self, clip64, gen, steps=STEPS["sr_low"]):
        t0 = time.time()
        out = upsample_sr_low(self.m["sr_low"], clip64, gen, steps, self.condition_clip["sr_low"])
        self._time("sr_low", t0)
        return out

    @torch.no_grad()
    def sr_high(self, clip256, gen, steps=STEPS["sr_high"], batch=4):
        """Per frame, in batches, every frame from the same initial noise."""
        t0 = time.time()
        b, c, f, h, w = clip256.shape
        noise = torch.randn(1, c, h * 3, w * 3, generator=gen)
        frames = [upsample_sr_high(self.m["sr_high"], clip256[0, :, s:s + batch].permute(1, 0, 2, 3), noise, steps,
                                   self.condition_clip["sr_high"])
                  for s in range(0, f, batch)]
        self._time("sr_high", t0)
        return torch.cat(frames).permute(1, 0, 2, 3).unsqueeze(0)

    def generate(self, prompt, seed=0, fps=8.0, guidance=None, steps=None, until="sr_high", strength=None,
                 guidance_from=None, hold=None):
        """Runs the stages up to `until` (keyframes, interpolator, sr_low, sr_high); returns a dict of outputs.
        `guidance` is the decoder's, as the request's guidanceScale in Java; the prior uses its manifest's.
        `guidance_from`, `hold`: the decoder's guidance interval and guided hold (its manifest's unless given)."""
        steps = dict(STEPS, **(steps or {}))
        gen = torch.Generator().manual_seed(seed)
        out = {"image_embed": self.image_embed(prompt, gen, steps=steps["prior"])}
        out["keyframes"] = self.keyframes(out["image_embed"], gen, fps, guidance, steps["decoder"],
                                          guidance_from=guidance_from, hold=hold)
        if until == "keyframes":
            return out
        out["frames_64"] = self.interpolate(out["keyframes"], out["image_embed"], gen, fps, 5, steps["interpolator"],
                                            strength)
        if until == "interpolator":
            return out
        out["frames_256"] = self.sr_low(out["frames_64"], gen, steps["sr_low"])
        if until == "sr_low":
            return out
        out["frames_768"] = self.sr_high(out["frames_256"], gen, steps["sr_high"])
        return out


def to_uint8(clip):
    """[1, 3, F, H, W] in [-1, 1] → [F, H, W, 3] uint8."""
    return ((clip[0].permute(1, 2, 3, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy()


def write_mp4(frames, path, fps):
    f, h, w, _ = frames.shape
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    cmd = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", f"{fps}", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", path]
    subprocess.run(cmd, input=frames.tobytes(), check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prompt", required=True)
    p.add_argument("--out", default="out/sample.mp4")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--guidance", type=float, default=None, help="the decoder's (default: its manifest's)")
    p.add_argument("--until", default="sr_high", choices=["keyframes", "interpolator", "sr_low", "sr_high"])
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--threads", type=int, default=2)
    for k, v in STEPS.items():
        p.add_argument(f"--{k.replace('_', '-')}-steps", type=int, default=v)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    pipe = Pipeline(a.checkpoints)
    steps = {k: getattr(a, f"{k}_steps") for k in STEPS}
    t0 = time.time()
    out = pipe.generate(a.prompt, a.seed, a.fps, a.guidance, steps, a.until)
    last = out[{"keyframes": "keyframes", "interpolator": "frames_64", "sr_low": "frames_256",
                "sr_high": "frames_768"}[a.until]]
    out_fps = a.fps * (5 if a.until != "keyframes" else 1)
    write_mp4(to_uint8(last), a.out, out_fps)
    print(f"{a.out}: {last.shape[2]} frames {last.shape[3]}² at {out_fps} fps; model seconds {pipe.timings}; "
          f"total {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
