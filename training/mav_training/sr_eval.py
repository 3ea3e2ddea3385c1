"""SR^t_l and SR_h on their own: each model upsamples a render of the world and is scored against the render of the
same scene at its own resolution, beside plain bilinear upsampling of the same input. Seen and held-out colour-shape
pairs apart, on scenes of a world seed no stage trains on.

  python3 -m mav_training.sr_eval --scenes 12 --threads 1     # checkpoints/sr_eval.json and checkpoints/sr_eval.md

PSNR is over the whole frame (RGB in [0, 1]) and over the band of pixels within `BAND_PX` (at the output's size) of
the object's outline, where a super-resolution model has something to add; intervals are 95 % t-intervals of the mean
over scenes (differences paired by scene).
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import world as W
from .sample import Pipeline

WORLD_SEED = 4242  # scenes no training stage draws (they use World(0))
FRAMES = 8  # SR^t_l's clips: more than the 6 it trained on, far fewer than the pipeline's 76
FPS = 8.0
BAND_PX = {"sr_low": 4, "sr_high": 9}  # the outline's band: 1 px of the 64² input at each output's scale × 1 … 2.25
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 11: 2.20,
       12: 2.18, 13: 2.16, 14: 2.14, 15: 2.13, 19: 2.09, 23: 2.07, 29: 2.05}


def psnr(x, ref, mask=None):
    """PSNR in dB of x against ref, both in [-1, 1] (scored in [0, 1]); over `mask` (broadcast over channels) if
    given."""
    err = ((x - ref) / 2) ** 2
    if mask is not None:
        m = mask.expand_as(err).bool()
        err = err[m]
    return 10 * math.log10(1.0 / max(err.mean().item(), 1e-12))


def outline_band(img, background, px):
    """[.., 1, H, W] bool: pixels within px of the object's outline, the object being the pixels > 0.1 off the
    background colour (img [.., 3, H, W] in [-1, 1], background [3] in [-1, 1])."""
    fg = ((img - background.view(3, 1, 1)).abs().amax(-3, keepdim=True) > 0.1).float()
    shape = fg.shape
    fg = fg.reshape(-1, 1, *shape[-2:])
    grow = F.max_pool2d(fg, 2 * px + 1, 1, px)
    shrink = 1 - F.max_pool2d(1 - fg, 2 * px + 1, 1, px)
    return (grow - shrink).bool().reshape(shape)


def t_interval(values):
    """(mean, low, high): the 95 % t-interval of the mean."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n < 2:
        return float(v.mean()), float("nan"), float("nan")
    t = T95.get(n - 1) or T95[max(k for k in T95 if k <= n - 1)]
    half = t * v.std(ddof=1) / math.sqrt(n)
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def scenes(count, held_out, seed=WORLD_SEED):
    """`count` scenes of the world at `seed`, all of seen or all of held-out colour-shape pairs, with their rngs."""
    out, i = [], 0
    while len(out) < count:
        rng = np.random.default_rng([seed, i])
        i += 1
        scene = W.sample_scene(rng, allow_held_out=True)
        if W.is_held_out(scene["colour"], scene["shape"]) == held_out:
            out.append((scene, rng))
    return out


def score(out, low, ref, background, band_px):
    base = F.interpolate(low, size=ref.shape[-2:], mode="bilinear", align_corners=False)
    band = outline_band(ref, background, band_px)
    return {"psnr": psnr(out, ref), "psnr_bilinear": psnr(base, ref),
            "psnr_band": psnr(out, ref, band), "psnr_band_bilinear": psnr(base, ref, band)}


@torch.no_grad()
def evaluate(pipe, count, log=print):
    rows = []
    for held_out in (False, True):
        for k, (scene, rng) in enumerate(scenes(count, held_out)):
            bg = torch.from_numpy(W.unit_rgb(W.BACKGROUNDS[scene["background"]])).float()
            motion = W.sample_motion(scene, rng, FRAMES, FPS)
            low = torch.from_numpy(W.render_video(scene, motion, FRAMES, FPS, 64))[None]
            ref = torch.from_numpy(W.render_video(scene, motion, FRAMES, FPS, 256))[None]
            gen = torch.Generator().manual_seed(k)
            out = pipe.sr_low(low, gen)
            flat = lambda v: v[0].permute(1, 0, 2, 3)  # [1, 3, F, H, W] → [F, 3, H, W]
            rows.append(dict(model="sr_low", held_out=held_out, scene=scene_name(scene),
                             **score(flat(out), flat(low), flat(ref), bg, BAND_PX["sr_low"])))
            low = ref[:, :, :1]  # SR_h: the first frame, from its exact 256² render
            ref = torch.from_numpy(W.render(scene, 768, W.centre_at(motion, 0.0)))[None, :, None]
            out = pipe.sr_high(low, gen)
            rows.append(dict(model="sr_high", held_out=held_out, scene=scene_name(scene),
                             **score(flat(out), flat(low), flat(ref), bg, BAND_PX["sr_high"])))
            log(f"{'held-out' if held_out else 'seen'} {k}: {rows[-2]['scene']}: "
                f"sr_low {rows[-2]['psnr_band']:.1f} dB (bilinear {rows[-2]['psnr_band_bilinear']:.1f}), "
                f"sr_high {rows[-1]['psnr_band']:.1f} dB (bilinear {rows[-1]['psnr_band_bilinear']:.1f}) near the outline")
    return rows


def scene_name(scene):
    facing = f" {scene['direction']}" if scene["direction"] else ""
    return f"{scene['colour']} {scene['shape']}{facing} on {scene['background']}"


def summary(rows):
    """{model: {seen|held_out: {measure: (mean, low, high)}}} with the paired differences model − bilinear."""
    out = {}
    for model in ("sr_low", "sr_high"):
        for held_out in (False, True):
            r = [x for x in rows if x["model"] == model and x["held_out"] == held_out]
            s = {m: t_interval([x[m] for x in r]) for m in ("psnr", "psnr_bilinear", "psnr_band", "psnr_band_bilinear")}
            s["gain"] = t_interval([x["psnr"] - x["psnr_bilinear"] for x in r])
            s["gain_band"] = t_interval([x["psnr_band"] - x["psnr_band_bilinear"] for x in r])
            s["n"] = len(r)
            out.setdefault(model, {})["held_out" if held_out else "seen"] = s
    return out


def table(summ):
    f = lambda v: f"{v[0]:.2f} ({v[1]:.2f}–{v[2]:.2f})"
    lines = ["| model | pairs (scenes) | PSNR dB, whole frame | bilinear | gain | PSNR dB, outline band | bilinear | gain |",
             "|---|---|---|---|---|---|---|---|"]
    for model, sets in summ.items():
        for name, s in sets.items():
            lines.append(f"| {model} | {name.replace('_', '-')} ({s['n']}) | {f(s['psnr'])} | {f(s['psnr_bilinear'])} | "
                         f"{f(s['gain'])} | {f(s['psnr_band'])} | {f(s['psnr_band_bilinear'])} | {f(s['gain_band'])} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenes", type=int, default=12, help="scenes per pair set (seen, held-out)")
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    pipe = Pipeline(a.checkpoints)
    rows = evaluate(pipe, a.scenes)
    summ = summary(rows)
    os.makedirs(a.checkpoints, exist_ok=True)
    with open(os.path.join(a.checkpoints, "sr_eval.json"), "w") as f:
        json.dump({"rows": rows, "summary": summ, "frames": FRAMES, "fps": FPS, "world_seed": WORLD_SEED}, f, indent=1)
    md = table(summ)
    with open(os.path.join(a.checkpoints, "sr_eval.md"), "w") as f:
        f.write(md + "\n")
    print(md)
    print(f"{len(rows)} rows in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
