"""What the user gets: the whole reference pipeline run to its final frames, and every one of the 76 frames measured
(evaluate.py judges D^t's 16 keyframes; this judges the video).

  python3 -m mav_training.video_eval --select-strength       # ↑F's inbetween_strength, chosen on SELECTION_SEEDS
  python3 -m mav_training.video_eval --select-interpolator checkpoints NEW --strengths 0.05 0.15 0.3   # ↑F's weights
                                                             # and strength together, SELECTION_SEEDS
  python3 -m mav_training.video_eval --select-sr sr_low --candidates checkpoints NEW   # SR weights, SELECTION_SEEDS
  python3 -m mav_training.video_eval --select-sr-steps sr_low --step-counts 10 5 3     # SR steps, SELECTION_SEEDS
  python3 -m mav_training.video_eval --select-sr-clip sr_low --clips off 1:0 1:0.25 2:0   # SR x̂0 held to the
                                                             # condition's colour lines, SELECTION_SEEDS
  python3 -m mav_training.video_eval --select-decoder 0:50 0:50:1:0 200:25 --seeds 3   # the decoder's guidance
                                                             # interval, steps and guided hold, SELECTION_SEEDS; with
  python3 -m mav_training.motion_eval --select-decoder 0:50 0:50:1:0 200:25    # (motion across fps 4-30) then
  python3 -m mav_training.video_eval --decide-decoder                      # the setting that passes both
  python3 -m mav_training.video_eval --strengths 1.0 0.05    # report on REPORT_SEEDS: each setting on the same
                                                             # keyframes; --until sr_low (256², default) | sr_high

Object measures read each final frame averaged down to 64² with the keyframe report's own classifiers
(evaluate.analyse, interior, classify_shape); the rest read the frames at their own resolution R:
  shape       per frame, the nearest template (IoU at the centroid and area) is the prompt's shape; the share of all
              frames and the longest run of frames without it
  colour      per frame, nearest palette colour of the object's interior (whole foreground if it has none)
  present     per frame, ≥ 12 foreground pixels at 64²
  area, sharp in-between frames (not 0, 5, 10, …) over keyframes: mean object area; sharpness = 90th percentile of
              the gradient magnitude (8-bit levels per pixel at R) in a band around the object's outline
  speed       centroid first → last frame in frame-widths per second at the clip's fps (keyframe fps × 5) against
              the world's 0.05-0.12; direction = dominant axis of that displacement (fish, arrows)
  halo        share of the pixels within R/32 px of the object's outline, either side, whose colour lies more than
              0.3 (38 levels) off every blend of the background and the named colour
  grid        RMS amplitude, in 8-bit levels, of the background at the period of SR^t_l's 4×4 space-to-depth (R/64
              px, 4 at 256²) in x, y and both, the object and its edges masked out; its floor the same 4 bins either
              side (texture with no period: what the grid bins would hold with no grid)
  flicker     std over frames of the mean border colour (8-bit levels), as the keyframe report

Per-frame rates come with 95 % Wilson intervals over frames; frames of one clip are not independent, so read them
as the least uncertainty there is; per-clip rates (direction) have intervals over clips.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from . import evaluate as E
from . import world as W

# Seen pairs in phrasings that are not captions, then the held-out pairs (E.PROMPTS' own, a subset for CPU time).
VIDEO_PROMPTS = [
    "a star that is yellow on a black background", "a square that is red on a gray background",
    "a fish swimming right, blue", "a yellow arrow pointing down on gray", "an orange arrow pointing up on white",
    "a red star on a white background", "a blue triangle", "a purple square on a black background",
    "a green fish swimming left",
]
# the strength is chosen on fewer prompts (CPU time), two seen and two held-out, on selection seeds
SELECTION_PROMPTS = ["a star that is yellow on a black background", "a fish swimming right, blue",
                     "a purple square on a black background", "a green fish swimming left"]
SHEET_PROMPTS = ["a red star on a white background", "a square that is red on a gray background",
                 "a fish swimming right, blue"]
SKIP = 5
# 0.05 leaves one step, at t = 0: the keyframes' blend itself, what ↑F's later steps are measured against
CANDIDATE_STRENGTHS = (1.0, 0.5, 0.3, 0.15, 0.05)
# the slowest object of the world moves 0.05 frame-widths per second; the target is 70 % of the world's speed
MIN_SPEED = 0.7 * W.SPEED_RANGE[0]
HALO_OFF = 0.3
# the grid measure's floor: this many frequency bins either side of the grid's, far enough to miss its peak
FLOOR_OFFSET = 4


def downsample(clip, factor):
    """[3, F, H, W] → [3, F, H/factor, W/factor] by averaging factor×factor blocks."""
    if factor == 1:
        return clip
    c, f, h, w = clip.shape
    return clip.reshape(c, f, h // factor, factor, w // factor, factor).mean((3, 5))


def upsample_mask(mask, factor):
    return mask.repeat(factor, axis=-2).repeat(factor, axis=-1)


def dilate(mask, r):
    """[..., H, W] bool → grown by a (2r+1)² square (separable: rows, then columns)."""
    out = mask.copy()
    for axis in (-2, -1):
        grown = out.copy()
        n = out.shape[axis]
        for d in range(1, r + 1):
            lo = [slice(None)] * out.ndim
            hi = [slice(None)] * out.ndim
            lo[axis], hi[axis] = slice(0, n - d), slice(d, n)
            grown[tuple(lo)] |= out[tuple(hi)]
            grown[tuple(hi)] |= out[tuple(lo)]
        out = grown
    return out


def longest_run(ok):
    """Longest run of False in a sequence of booleans."""
    best = run = 0
    for v in ok:
        run = 0 if v else run + 1
        best = max(best, run)
    return best


def halo(clip, fg, bg, colour, r):
    """Per frame: the share of the pixels within r px of the object's outline (either side: a strong fringe passes
    the foreground threshold) that lie off every blend of the background bg [3, F] and `colour`."""
    obj = W.unit_rgb(W.COLOURS[colour])[:, None]
    ring = dilate(fg, r) & dilate(~fg, r)
    out = []
    for i in range(clip.shape[1]):
        px = clip[:, i][:, ring[i]]  # 3 n
        if px.shape[1] == 0:
            out.append(0.0)
            continue
        b = bg[:, i:i + 1]
        d = obj - b
        t = np.clip(((px - b) * d).sum(0) / max(1e-8, (d * d).sum()), 0, 1)
        off = np.sqrt(((px - b - t * d) ** 2).sum(0))
        out.append(float((off > HALO_OFF).mean()))
    return np.array(out)


def grid_energy(clip, fg, bg, period, floor_offset=FLOOR_OFFSET):
    """Per frame: RMS amplitude (8-bit levels) of the background's residual at `period` px in x, y and both
    diagonals, with the object and 2·period px around it masked out (its edges are not texture); and the same at the
    frequencies `floor_offset` bins either side (the texture's floor: noise and detail with no period, which the grid
    bins hold too). Returns (grid, floor)."""
    c, f, h, w = clip.shape
    keep = ~dilate(fg, 2 * period)

    def bins(ky, kx):
        return [(0, kx), (0, -kx), (ky, 0), (-ky, 0), (ky, kx), (ky, -kx), (-ky, kx), (-ky, -kx)]
    ky, kx = h // period, w // period
    at = {"grid": bins(ky, kx), "floor": bins(ky - floor_offset, kx - floor_offset) + bins(ky + floor_offset,
                                                                                            kx + floor_offset)}
    out = {k: [] for k in at}
    for i in range(f):
        frac = keep[i].mean()
        if frac < 0.1:
            for k in at:
                out[k].append(float("nan"))
            continue
        res = (clip[:, i] - bg[:, i, None, None]) * keep[i]
        spec = np.abs(np.fft.fft2(res)) ** 2  # over the last two axes
        for k, where in at.items():
            power = sum(spec[:, y, x] for y, x in where) * 8 / len(where)  # per 8 bins, as the grid's
            out[k].append(float(np.sqrt(power.mean() / frac) / (h * w) * 127.5))
    return np.array(out["grid"]), np.array(out["floor"])


def sharpness(clip, fg, r):
    """Per frame: 90th percentile of |∇| (8-bit levels per pixel) in the band within r px of the outline."""
    gy = np.diff(clip, axis=2, append=clip[:, :, -1:])
    gx = np.diff(clip, axis=3, append=clip[:, :, :, -1:])
    g = np.sqrt((gx ** 2 + gy ** 2).sum(0)) * 127.5
    band = dilate(fg, r) & dilate(~fg, r)
    return np.array([float(np.percentile(g[i][band[i]], 90)) if band[i].any() else float("nan")
                     for i in range(clip.shape[1])])


def measure_video(clip, want, fps, skip=SKIP):
    """Every frame of a final clip [3, F, R, R] in [-1, 1]; returns the per-clip row (per-frame lists included)."""
    res = clip.shape[-1]
    factor = res // 64
    small = downsample(clip, factor)
    a = E.analyse(small)
    fg = a["fg"]
    f = clip.shape[1]
    inner = E.interior(fg)
    shapes, facings, colours = [], [], []
    for i in range(f):
        s, d, _ = E.classify_shape(fg[i])
        shapes.append(s)
        facings.append(d)
        px = small[:, i][:, inner[i]] if inner[i].any() else small[:, i][:, fg[i]]
        colours.append(E._nearest(px.mean(1), W.COLOURS) if px.shape[1] else None)
    keys = np.zeros(f, bool)
    keys[::skip] = True
    shape_ok = np.array([s == want["shape"] for s in shapes])
    row = {"frames": f, "shapes": shapes, "colours": colours,
           "shape_ok": shape_ok.tolist(), "colour_ok": [c == want["colour"] for c in colours],
           "present": a["present"].tolist(), "longest_wrong_shape": longest_run(shape_ok),
           "shape_share": float(shape_ok.mean()), "shape_share_keyframes": float(shape_ok[keys].mean()),
           "shape_share_between": float(shape_ok[~keys].mean()),
           "area_ratio": float(a["areas"][~keys].mean() / max(1.0, a["areas"][keys].mean())),
           "flicker": round(a["flicker"], 3)}
    if "direction" in want:
        row["facing_ok"] = [d == want["direction"] for d in facings]
    mdir, dist = E.motion_direction(a["centroids"], 0.0)
    row["speed_fw_per_s"] = round(dist / 64 / ((f - 1) / (fps * skip)), 4)
    if "direction" in want:
        row["direction_ok"] = mdir == want["direction"]
        row["moves_ok"] = row["direction_ok"] and row["speed_fw_per_s"] >= MIN_SPEED
    # at the final resolution: the object's mask grown back from 64², the background per frame
    fg_r = upsample_mask(fg, factor)
    border = np.concatenate([clip[:, :, 0], clip[:, :, -1], clip[:, :, :, 0], clip[:, :, :, -1]], axis=2)
    bg = np.median(border, axis=2)  # 3 f
    sharp = sharpness(clip, fg_r, max(1, res // 64))
    hal = halo(clip, fg_r, bg, want["colour"], max(1, res // 32))
    # SR^t_l's 4×4 space-to-depth at 256² is a period of res/64 px at the final size; at 64² there is none
    grid, floor = grid_energy(clip, fg_r, bg, res // 64) if res >= 256 else (None, None)
    # SR_h's own 3×3 space-to-depth: a period of 3 px at 768²
    grid_sr_high = grid_energy(clip, fg_r, bg, res // 256)[0] if res >= 768 else None
    row["sharp_ratio"] = float(np.nanmean(sharp[~keys]) / max(1e-6, np.nanmean(sharp[keys])))
    row["sharp_levels"] = float(np.nanmean(sharp))
    row["halo"] = float(hal.mean())
    row["grid_levels"] = None if grid is None else float(np.nanmean(grid))
    row["grid_floor_levels"] = None if floor is None else float(np.nanmean(floor))
    row["grid_sr_high_levels"] = None if grid_sr_high is None else float(np.nanmean(grid_sr_high))
    return row


def summarise(rows):
    """Per pair set: per-frame shares pooled over clips (Wilson over frames), per-clip means and ranges."""
    out = {}
    for group, sub in (("seen_pairs", [r for r in rows if not r["held_out"]]),
                       ("held_out_pairs", [r for r in rows if r["held_out"]])):
        if not sub:
            continue
        s = {"clips": len(sub), "frames": sum(r["frames"] for r in sub)}
        for key in ("shape_ok", "colour_ok", "present", "facing_ok"):
            flat = [v for r in sub for v in r.get(key, [])]
            if flat:
                s[key] = round(float(np.mean(flat)), 3)
                s[key + "_ci95"] = E.wilson(sum(flat), len(flat))
        for key in ("shape_share_keyframes", "shape_share_between", "area_ratio", "sharp_ratio", "halo",
                    "grid_levels", "grid_floor_levels", "grid_sr_high_levels", "flicker", "speed_fw_per_s"):
            v = [r[key] for r in sub if r.get(key) is not None]
            if not v:
                continue
            s[key] = round(float(np.mean(v)), 3)
            s[key + "_range"] = [round(float(min(v)), 3), round(float(max(v)), 3)]
        s["longest_wrong_shape_max"] = max(r["longest_wrong_shape"] for r in sub)
        s["longest_wrong_shape_mean"] = round(float(np.mean([r["longest_wrong_shape"] for r in sub])), 1)
        for key in ("direction_ok", "moves_ok"):
            v = [r[key] for r in sub if key in r]
            if v:
                s[key] = round(float(np.mean(v)), 3)
                s[key + "_ci95"] = E.wilson(sum(v), len(v))
                s[key + "_clips"] = len(v)
        out[group] = s
    return out


@torch.no_grad()
def keyframes_for(pipe, prompt, seed, fps, steps):
    """Image embedding, keyframes, and the generator state after them, so every setting of ↑F and SR that follows
    draws the same noise."""
    gen = torch.Generator().manual_seed(seed)
    emb = pipe.image_embed(prompt, gen)
    keys = pipe.keyframes(emb, gen, fps, None, steps["decoder"])
    return emb, keys, gen.get_state()


@torch.no_grad()
def final_frames(pipe, emb, keys, state, fps, strength, until, steps, window=None):
    gen = torch.Generator()
    gen.set_state(state)
    x = pipe.interpolate(keys, emb, gen, fps, SKIP, steps["interpolator"], strength, window)
    if until in ("sr_low", "sr_high"):
        x = pipe.sr_low(x, gen, steps["sr_low"])
    if until == "sr_high":
        x = pipe.sr_high(x, gen, steps["sr_high"])
    return x


def measure_settings(prompts, seeds, prepare, settings, measures, fps=8.0):
    """The selection runs' loop: for each prompt × selection seed, `prepare(prompt, seed)` makes what every setting
    starts from (the same keyframes and noise), then each setting (label → run(start) → frames [1, 3, F, R, R]) is
    measured on all its frames. Returns the rows (`measures`, prompt, seed, setting, seconds) and each setting's
    means over its rows."""
    rows = []
    for prompt in prompts:
        want = W.caption_attributes(prompt)
        for seed in E.check_seeds(seeds, "selection"):
            start = prepare(prompt, seed)
            for label, run in settings.items():
                t0 = time.time()
                row = measure_video(run(start)[0].numpy(), want, fps)
                small = {k: row.get(k) for k in measures}
                small.update(prompt=prompt, seed=seed, setting=label, seconds=round(time.time() - t0, 1))
                rows.append(small)
                print(json.dumps(small), flush=True)
    return rows, setting_means(rows, settings, measures + ("seconds",))


def setting_means(rows, labels, measures):
    """{label: {measure: mean over the label's rows}}, rows without the measure (None) left out; not rounded, since the
    selection rules compare them (a difference under a rounding step is still a difference)."""
    def mean(label, k):
        vals = [r[k] for r in rows if r["setting"] == label and r.get(k) is not None]
        return float(np.mean(vals)) if vals else None
    return {label: {k: mean(label, k) for k in measures} for label in labels}


def setting_label(strength, window):
    """A ↑F setting's name in tables: its strength, and its keyframes per window when one was asked for."""
    return str(strength) if window is None else f"{strength} w{window}"


STRENGTH_MEASURES = ("shape_share", "shape_share_between", "area_ratio", "sharp_ratio", "longest_wrong_shape",
                     "speed_fw_per_s")


def select_strength(pipe, seeds, steps, fps=8.0, candidates=CANDIDATE_STRENGTHS, windows=(None,)):
    """↑F's 64² output for each candidate (strength × keyframes per window) on the same keyframes; the named-shape
    share over all 76 frames decides: of the candidates within 2 points of the best, those whose in-between objects
    are within 10 % of the keyframes' area (if any), the largest strength wins (it leaves ↑F the most to draw), then
    the window ↑F was trained on (the smallest)."""
    choices = {setting_label(s, w): (s, w) for w in windows for s in candidates}
    settings = {label: (lambda start, s=s, w=w: final_frames(pipe, *start, fps, s, "interpolator", steps, w))
                for label, (s, w) in choices.items()}
    rows, table = measure_settings(SELECTION_PROMPTS, seeds, lambda p, seed: keyframes_for(pipe, p, seed, fps, steps),
                                   settings, STRENGTH_MEASURES, fps)
    best = max(v["shape_share"] for v in table.values())
    near = [label for label, v in table.items() if v["shape_share"] >= best - 0.02]
    sized = [label for label in near if abs(table[label]["area_ratio"] - 1) <= 0.1]
    strength, window = max((choices[label] for label in sized or near), key=lambda sw: (sw[0], -(sw[1] or 10 ** 6)))
    return {"seeds": list(seeds), "prompts": SELECTION_PROMPTS, "table": table,
            "chosen": strength, "chosen_window_keyframes": window, "rows": rows}


DECODER_MEASURES = ("shape_share", "halo", "sharp_levels", "area_ratio", "speed_fw_per_s")
# the decoder's sampling is chosen on more oriented clips than the SR settings: it is what makes the motion
DECODER_SELECTION_PROMPTS = SELECTION_PROMPTS + ["a yellow arrow pointing down on gray",
                                                 "a blue arrow pointing left on black"]


def decoder_label(threshold, n, hold=None):
    return f"t>={threshold}, {n} steps" + (f", held {hold[0]}:{hold[1]}" if hold else "")


def decoder_settings(args):
    """'T:N' or 'T:N:R:M' arguments → (guidance_min_timestep, steps, hold) triples; hold (radius, margin) of the
    guided x̂0 held to the conditional x̂0's colour lines, or None for no hold."""
    out = []
    for arg in args:
        v = arg.split(":")
        if len(v) not in (2, 4):
            raise SystemExit(f"a decoder setting is T:N or T:N:RADIUS:MARGIN, got {arg!r}")
        out.append((int(v[0]), int(v[1]), (int(v[2]), float(v[3])) if len(v) == 4 else None))
    return out


def decoder_hold(hold):
    """A setting's hold as Pipeline.keyframes takes it: {radius, margin}, or False for none (not the manifest's)."""
    return {"radius": hold[0], "margin": hold[1]} if hold else False


def decoder_choice(setting):
    threshold, n, hold = setting
    return {"guidance_min_timestep": threshold, "steps": n, "hold_guided_to_conditional": decoder_hold(hold) or None}


def choose_decoder_sampling(table, settings, motion_keeping=None):
    """Of the settings (guidance_min_timestep, steps, hold) that keep the first's (the reference: the most steps)
    video: named shape at most 2 points lower, oriented clips moving the named way at ≥ 70 % of the world's slowest
    speed as often, outline sharpness at least 95 %, and, given `motion_keeping` (the labels motion_eval
    --select-decoder kept across fps 4–30), among those; those that halve its halo if any; then the fewest steps, then
    the lowest threshold (the most guidance kept)."""
    base = table[decoder_label(*settings[0])]
    if motion_keeping is not None:
        settings = [s for s in settings if decoder_label(*s) in motion_keeping]
    keep = [s for s in settings if table[decoder_label(*s)]["shape_share"] >= base["shape_share"] - 0.02
            and table[decoder_label(*s)]["moves_ok"] >= base["moves_ok"]
            and table[decoder_label(*s)]["sharp_levels"] >= 0.95 * base["sharp_levels"]]
    halved = [s for s in keep if table[decoder_label(*s)]["halo"] <= 0.5 * base["halo"]]
    return min(halved or keep, key=lambda s: (s[1], s[0]))


def select_decoder(pipe, seeds, steps, settings, fps=8.0):
    """The decoder's guidance interval, steps and guided hold: each setting (guidance_min_timestep, steps, hold; the
    first the reference) draws keyframes from the same image embedding and noise, then ↑F; all 76 frames measured at
    64², where the decoder's rim is made. choose_decoder_sampling decides."""
    def prepare(prompt, seed):
        gen = torch.Generator().manual_seed(seed)
        return pipe.image_embed(prompt, gen), gen.get_state()

    def sample(start, threshold, n, hold):
        emb, state = start
        gen = torch.Generator()
        gen.set_state(state)
        keys = pipe.keyframes(emb, gen, fps, None, n, guidance_from=threshold, hold=decoder_hold(hold))
        return pipe.interpolate(keys, emb, gen, fps, SKIP, steps["interpolator"])
    runs = {decoder_label(*s): (lambda start, s=s: sample(start, *s)) for s in settings}
    with torch.no_grad():
        # moves_ok: oriented clips only (None for the others, left out of the means)
        rows, table = measure_settings(DECODER_SELECTION_PROMPTS, seeds, prepare, runs,
                                       DECODER_MEASURES + ("moves_ok",), fps)
    return {"seeds": list(seeds), "prompts": DECODER_SELECTION_PROMPTS, "settings": settings, "table": table,
            "chosen": decoder_choice(choose_decoder_sampling(table, settings)), "rows": rows}


INTERPOLATOR_MEASURES = ("shape_share", "shape_share_between", "area_ratio", "sharp_ratio", "halo",
                         "longest_wrong_shape")


def interpolator_label(candidate, strength):
    return f"{candidate} @ {strength}"


def choose_interpolator(table, settings):
    """Of the settings (candidate weights, strength; the first the shipped pair) that keep the first's named shape
    within 2 points, its worst clip's in-between area no further from the keyframes', and its halo at most 10 % higher:
    the sharpest in-between frames against the keyframes (the pulse a user sees every fifth frame), then the largest
    strength (it leaves ↑F the most to draw)."""
    base = table[interpolator_label(*settings[0])]
    row = lambda s: table[interpolator_label(*s)]
    keep = [s for s in settings if row(s)["shape_share"] >= base["shape_share"] - 0.02
            and row(s)["area_off_worst"] <= base["area_off_worst"] and row(s)["halo"] <= 1.1 * base["halo"]]
    return max(keep, key=lambda s: (row(s)["sharp_ratio"], s[1]))


def select_interpolator(pipe, seeds, steps, candidates, strengths, fps=8.0):
    """↑F's weights and strength together: the first candidate (a checkpoints directory; its interpolator checkpoint,
    else the exported model) at the manifest's strength is the reference, every candidate runs at every strength, on
    the same keyframes and noise of DECODER_SELECTION_PROMPTS (the yellow arrow's thin shaft is where in-between area
    drifts); ↑F's 64² output, all 76 frames. choose_interpolator decides."""
    from .checkpoints import load_ema
    from .recipe import make_interpolator
    models = {c: load_ema(c, "interpolator", make_interpolator()) for c in candidates}
    settings = [(candidates[0], pipe.inbetween_strength)] + [
        (c, s) for c in candidates for s in strengths if (c, s) != (candidates[0], pipe.inbetween_strength)]

    def sample(start, c, strength):
        pipe.m["interpolator"] = models[c]
        return final_frames(pipe, *start, fps, strength, "interpolator", steps)
    runs = {interpolator_label(c, s): (lambda start, c=c, s=s: sample(start, c, s)) for c, s in settings}
    shipped = pipe.m["interpolator"]
    with torch.no_grad():
        rows, table = measure_settings(DECODER_SELECTION_PROMPTS, seeds,
                                       lambda p, seed: keyframes_for(pipe, p, seed, fps, steps), runs,
                                       INTERPOLATOR_MEASURES, fps)
    pipe.m["interpolator"] = shipped
    for label, t in table.items():
        t["area_off_worst"] = round(max(abs(r["area_ratio"] - 1) for r in rows if r["setting"] == label), 4)
    c, strength = choose_interpolator(table, settings)
    return {"seeds": list(seeds), "prompts": DECODER_SELECTION_PROMPTS, "settings": settings, "table": table,
            "chosen": {"candidate": c, "inbetween_strength": strength}, "rows": rows}



# the grid an SR model makes: its own space-to-depth period in its output
GRID_OF = {"sr_low": "grid_levels", "sr_high": "grid_sr_high_levels"}


def choose_sr(table, candidates, grid="grid_levels"):
    """The rule of select_sr over its per-candidate means; `grid`: the measure of the stage's own grid."""
    base = table[candidates[0]]
    better = [c for c in candidates[1:] if table[c]["halo"] < base["halo"] and table[c][grid] < base[grid]
              and table[c]["shape_share"] >= base["shape_share"] - 0.02]
    relative = lambda c, k: table[c][k] / max(1e-9, base[k])
    return min(better, key=lambda c: relative(c, "halo") + relative(c, grid)) if better else candidates[0]


def choose_sr_steps(table, steps):
    """The fewest steps whose means stay near the most steps' (the first): named shape at most 2 points lower, halo
    and grid energy at most 10 % higher, outline sharpness at least 95 %. Never 1: leading spacing puts a single
    step at t = 0, which hands the model pure noise labelled clean, outside what it trained on, however it measures."""
    base = table[steps[0]]
    ok = [n for n in steps if n >= 2 and table[n]["shape_share"] >= base["shape_share"] - 0.02
          and table[n]["halo"] <= 1.1 * base["halo"] and table[n]["grid_levels"] <= 1.1 * base["grid_levels"]
          and table[n]["sharp_levels"] >= 0.95 * base["sharp_levels"]]
    return min(ok)


SR_MEASURES = ("shape_share", "halo", "grid_levels", "grid_sr_high_levels", "sharp_levels", "sharp_ratio", "area_ratio",
               "flicker")


def compare_sr(pipe, stage, seeds, steps, settings, fps=8.0):
    """Each setting (label → (weights, sampling steps, clip_sample_to_condition)) upsamples the same frames of
    SELECTION_PROMPTS with the same noise at `stage`, measured at its output's size; returns the rows and the
    per-setting means."""
    upsample = {"sr_low": pipe.sr_low, "sr_high": pipe.sr_high}[stage]

    def prepare(prompt, seed):
        emb, keys, state = keyframes_for(pipe, prompt, seed, fps, steps)
        gen = torch.Generator()
        gen.set_state(state)
        x = pipe.interpolate(keys, emb, gen, fps, SKIP, steps["interpolator"], pipe.inbetween_strength)
        if stage == "sr_high":
            x = pipe.sr_low(x, gen, steps["sr_low"])
        return x, gen.get_state()

    def sample(start, model, n, clip):
        x, state = start
        pipe.m[stage], pipe.condition_clip[stage] = model, clip
        gen = torch.Generator()
        gen.set_state(state)
        return upsample(x, gen, n)
    runs = {label: (lambda start, setting=setting: sample(start, *setting)) for label, setting in settings.items()}
    shipped = pipe.m[stage], pipe.condition_clip[stage]
    with torch.no_grad():
        rows, table = measure_settings(SELECTION_PROMPTS, seeds, prepare, runs, SR_MEASURES, fps)
    pipe.m[stage], pipe.condition_clip[stage] = shipped  # the pipeline leaves with the weights and clip it came with
    return rows, table


def select_sr(pipe, stage, seeds, steps, candidates, fps=8.0):
    """An SR model's weights: each candidate (a checkpoints directory; its `stage` checkpoint, else the exported
    model) at the stage's default steps. A candidate beats the first (the shipped weights) only if its halo and the
    energy of its own grid (GRID_OF) are both lower and its named-shape share is at most 2 points lower; of those that
    do, the lowest halo + grid relative to the first's wins."""
    from .checkpoints import load_ema
    from .recipe import make_sr_high, make_sr_low
    make = {"sr_low": make_sr_low, "sr_high": make_sr_high}[stage]
    settings = {c: (load_ema(c, stage, make()), steps[stage], pipe.condition_clip[stage]) for c in candidates}
    rows, table = compare_sr(pipe, stage, seeds, steps, settings, fps)
    return {"stage": stage, "seeds": list(seeds), "prompts": SELECTION_PROMPTS, "candidates": list(candidates),
            "table": table, "chosen": choose_sr(table, candidates, GRID_OF[stage]), "rows": rows}


def select_sr_steps(pipe, stage, seeds, steps, counts, fps=8.0):
    """An SR model's sampling steps (`counts`, the most first) on the pipeline's weights; choose_sr_steps decides."""
    counts = sorted(counts, reverse=True)
    settings = {n: (pipe.m[stage], n, pipe.condition_clip[stage]) for n in counts}
    rows, table = compare_sr(pipe, stage, seeds, steps, settings, fps)
    return {"stage": stage, "seeds": list(seeds), "prompts": SELECTION_PROMPTS, "steps": counts, "table": table,
            "chosen": choose_sr_steps(table, counts), "rows": rows}


def parse_clip(text):
    """A `clip_sample_to_condition` setting on the command line: 'off', or RADIUS:MARGIN such as 1:0."""
    if text == "off":
        return None
    radius, margin = text.split(":")
    return {"radius": int(radius), "margin": float(margin)}


def select_sr_clip(pipe, stage, seeds, steps, clips, fps=8.0):
    """An SR sampler's hold of x̂0 to its condition's local colour lines (`clips`: 'off' or RADIUS:MARGIN, the
    reference first) on the pipeline's weights and steps; choose_sr's rule decides, against the first: halo and the stage's own
    grid both lower, named shape at most 2 points lower, then the lowest halo + grid relative to the first's."""
    settings = {c: (pipe.m[stage], steps[stage], parse_clip(c)) for c in clips}
    rows, table = compare_sr(pipe, stage, seeds, steps, settings, fps)
    return {"stage": stage, "seeds": list(seeds), "prompts": SELECTION_PROMPTS, "clips": list(clips), "table": table,
            "chosen": choose_sr(table, list(clips), GRID_OF[stage]), "rows": rows}


def report(pipe, seeds, strengths, until, steps, fps=8.0, sheet_path=None, prompts=VIDEO_PROMPTS, log=None,
           windows=(None,)):
    """Rows for every prompt × report seed × ↑F setting (strength × keyframes per window), each setting on the same
    keyframes and noise; each row is also appended to `log` (JSON lines) as it is measured, so a run cut short keeps
    what it measured."""
    settings = [(s, w) for w in windows for s in strengths]
    seeds = E.check_seeds(seeds, "report")
    rows, sheet = [], []
    for prompt in prompts:
        want = W.caption_attributes(prompt)
        for seed in seeds:
            emb, keys, state = keyframes_for(pipe, prompt, seed, fps, steps)
            for strength, window in settings:
                t0 = time.time()
                clip = final_frames(pipe, emb, keys, state, fps, strength, until, steps, window)[0].numpy()
                row = measure_video(clip, want, fps)
                row.update(prompt=prompt, seed=seed, strength=strength, window=window,
                           held_out=W.is_held_out(want["colour"], want["shape"]), resolution=clip.shape[-1],
                           seconds=round(time.time() - t0, 1))
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if not isinstance(v, list)}), flush=True)
                if log:
                    with open(log, "a") as f:
                        f.write(json.dumps(row) + "\n")
                if prompt in SHEET_PROMPTS and seed == seeds[0]:
                    sheet.append(clip[:, :11])
    if sheet_path:
        write_sheet(sheet, sheet_path)
    return {"seeds": seeds, "until": until, "fps": fps, "steps": steps, "prompts": prompts,
            "summary": {setting_label(s, w): summarise([r for r in rows if r["strength"] == s and r["window"] == w])
                        for s, w in settings},
            "rows": rows}


def object_crop(clip, size):
    """The size² window of clip [3, F, R, R] centred on the first frame's object (pixels off the border's colour)."""
    r = clip.shape[-1]
    border = np.concatenate([clip[:, 0, 0], clip[:, 0, -1], clip[:, 0, :, 0], clip[:, 0, :, -1]], axis=1)
    off = np.abs(clip[:, 0] - np.median(border, axis=1)[:, None, None]).sum(0) > 0.3
    ys, xs = np.nonzero(off) if off.any() else ([r // 2], [r // 2])
    y0 = int(np.clip(np.mean(ys) - size / 2, 0, r - size))
    x0 = int(np.clip(np.mean(xs) - size / 2, 0, r - size))
    return clip[:, :, y0:y0 + size, x0:x0 + size]


def write_sheet(sheet, path):
    """Frames 0-10 side by side (keyframes 0, 5, 10 among them), one row per prompt and strength in the order
    measured: at 128 px, or above 256² the half of the frame around the object at 192 px (768²: 384² at half its
    pixels), so the edges show."""
    from PIL import Image
    from .sample import to_uint8
    lines = []
    for clip in sheet:
        if clip.shape[-1] > 256:
            small = downsample(object_crop(clip, clip.shape[-1] // 2), clip.shape[-1] // 384)
        elif clip.shape[-1] > 128:
            small = downsample(clip, clip.shape[-1] // 128)
        else:
            small = np.kron(clip, np.ones((1, 1, 128 // clip.shape[-1], 128 // clip.shape[-1]), dtype=clip.dtype))
        frames = to_uint8(torch.from_numpy(small)[None])
        lines.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in frames], 1))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    Image.fromarray(np.concatenate(lines, 0)).save(path)


def markdown(res):
    """The full-video table: one column pair (seen, held-out) per strength."""
    strengths = list(res["summary"])
    pct = lambda v: "–" if v is None else f"{100 * v:.0f} %"
    head = "| measure (95 % interval or range over clips) | " + " | ".join(
        f"strength {s}: seen ({res['summary'][s]['seen_pairs']['clips']} clips) | strength {s}: held-out "
        f"({res['summary'][s]['held_out_pairs']['clips']} clips)" for s in strengths) + " |"
    lines = [head, "|---|" + "---|" * (2 * len(strengths))]

    def cell(g, k, kind):
        v = g.get(k)
        if v is None:
            return "–"
        if kind == "rate":
            ci = g.get(k + "_ci95")
            return pct(v) + (f" ({100 * ci[0]:.0f}–{100 * ci[1]:.0f})" if ci else "")
        rng = g.get(k + "_range")
        if kind == "share":
            return pct(v) + (f" ({100 * rng[0]:.0f}–{100 * rng[1]:.0f})" if rng else "")
        if kind == "permille":  # shares of a few per cent
            return f"{100 * v:.1f} %" + (f" ({100 * rng[0]:.1f}–{100 * rng[1]:.1f})" if rng else "")
        return f"{v:.3g}" + (f" ({rng[0]:.3g}–{rng[1]:.3g})" if rng else "")
    for k, label, kind in [
            ("shape_ok", "named shape, all frames (Wilson over frames)", "rate"),
            ("shape_share_keyframes", "named shape, keyframes (mean of clips; range)", "share"),
            ("shape_share_between", "named shape, in-between frames (mean of clips; range)", "share"),
            ("longest_wrong_shape_mean", "longest run without the named shape, frames (mean of clips)", "num"),
            ("longest_wrong_shape_max", "longest run without the named shape, frames (worst clip)", "num"),
            ("colour_ok", "colour right, all frames", "rate"), ("present", "object present, all frames", "rate"),
            ("facing_ok", "facing right, all frames (fish, arrows)", "rate"),
            ("area_ratio", "object area, in-between / keyframes (range over clips)", "num"),
            ("sharp_ratio", "outline sharpness, in-between / keyframes", "num"),
            ("direction_ok", "moves the named way, first → last frame (fish, arrows; over clips)", "rate"),
            ("moves_ok", f"… and at ≥ {MIN_SPEED:.3f} frame-widths/s (70 % of the world's slowest)", "rate"),
            ("speed_fw_per_s", "speed, frame-widths/s (world: 0.05–0.12)", "num"),
            ("halo", f"halo: share of pixels near the outline > {HALO_OFF} off every background–object blend",
             "permille"),
            ("grid_levels", "background texture at SR^t_l's 4-px grid (4 px at 256², 12 at 768²), RMS 8-bit levels",
             "num"),
            ("grid_floor_levels", f"… the same {FLOOR_OFFSET} frequency bins either side of the grid's (texture with "
             "no period)", "num"),
            ("grid_sr_high_levels", "background texture at SR_h's 3-px grid (768² only), RMS 8-bit levels", "num"),
            ("flicker", "background flicker, std of the border mean over frames, 8-bit levels", "num")]:
        cells = [cell(res["summary"][s][g], k, kind) for s in strengths for g in ("seen_pairs", "held_out_pairs")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--select-strength", action="store_true",
                   help="choose ↑F's inbetween_strength on selection seeds (64², ↑F only)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per prompt (the first of SELECTION/REPORT_SEEDS)")
    p.add_argument("--strengths", type=float, nargs="+", default=None,
                   help="↑F settings to report on the same keyframes (default: the manifest's)")
    p.add_argument("--until", default="sr_low", choices=["interpolator", "sr_low", "sr_high"])
    p.add_argument("--windows", type=int, nargs="+", default=None,
                   help="↑F keyframes per window to compare (0: the whole clip; default: the manifest's)")
    p.add_argument("--select-sr", choices=["sr_low", "sr_high"], default=None,
                   help="compare an SR model's weights (--candidates, the shipped first) on selection seeds")
    p.add_argument("--candidates", nargs="+", default=None, metavar="DIR",
                   help="checkpoints directories; one without the stage's checkpoint stands for the exported model")
    p.add_argument("--select-interpolator", nargs="+", default=None, metavar="DIR",
                   help="↑F's weights (checkpoints directories, the shipped first) and --strengths together, "
                        "SELECTION_SEEDS")
    p.add_argument("--select-sr-steps", choices=["sr_low", "sr_high"], default=None,
                   help="compare an SR model's sampling steps (--step-counts, the most first) on selection seeds")
    p.add_argument("--step-counts", type=int, nargs="+", default=None)
    p.add_argument("--select-sr-clip", choices=["sr_low", "sr_high"], default=None,
                   help="compare an SR sampler's clip_sample_to_condition (--clips, the reference first) on selection "
                        "seeds")
    p.add_argument("--clips", nargs="+", default=None, metavar="off|RADIUS:MARGIN")
    p.add_argument("--select-decoder", nargs="+", default=None, metavar="T:N[:R:M]",
                   help="choose the decoder's guidance_min_timestep T, steps N and guided hold (radius R, margin M; "
                        "none without) on selection seeds (64²); the first setting is the reference, e.g. 0:50 "
                        "0:50:1:0 200:25")
    p.add_argument("--steps", nargs="+", default=[], metavar="MODEL=N",
                   help="sampling steps other than the manifests' defaults, e.g. sr_low=10 (the steps shipped before)")
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--decide-decoder", action="store_true",
                   help="sample nothing: the decoder's setting from checkpoints/decoder_sampling_selection.json "
                        "(--select-decoder) and decoder_motion_selection.json (motion_eval --select-decoder)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--prompts", nargs="+", default=VIDEO_PROMPTS, help="a subset of VIDEO_PROMPTS")
    p.add_argument("--tag", default="video_eval", help="checkpoints/<tag>.json, .md, .jsonl (rows as measured)")
    p.add_argument("--sheet", default="../docs/img/full-video-frames.png", help="'' for none")
    p.add_argument("--markdown", action="store_true", help="sample nothing: rewrite checkpoints/<tag>.md")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.markdown:
        with open(os.path.join(a.checkpoints, a.tag + ".json")) as f:
            res = json.load(f)
        with open(os.path.join(a.checkpoints, a.tag + ".md"), "w") as f:
            f.write(markdown(res))
        print(markdown(res))
        return
    from .sample import STEPS, Pipeline
    steps = dict(STEPS)
    for override in a.steps:
        name, n = override.split("=")
        if name not in steps:
            raise SystemExit(f"--steps {override}: no model {name!r} (models: {', '.join(steps)})")
        steps[name] = int(n)
    pipe = Pipeline(a.checkpoints)
    os.makedirs(a.checkpoints, exist_ok=True)
    windows = tuple(a.windows) if a.windows else (None,)
    selection = None
    seeds = E.SELECTION_SEEDS[:a.seeds]
    if a.select_strength:
        selection = "strength", select_strength(pipe, seeds, steps, a.fps, windows=windows)
    elif a.select_sr:
        selection = a.select_sr, select_sr(pipe, a.select_sr, seeds, steps, a.candidates, a.fps)
    elif a.select_interpolator:
        selection = "interpolator", select_interpolator(pipe, seeds, steps, a.select_interpolator,
                                                        a.strengths or CANDIDATE_STRENGTHS, a.fps)
    elif a.select_sr_steps:
        selection = a.select_sr_steps + "_steps", select_sr_steps(pipe, a.select_sr_steps, seeds, steps, a.step_counts,
                                                                  a.fps)
    elif a.select_sr_clip:
        selection = a.select_sr_clip + "_clip", select_sr_clip(pipe, a.select_sr_clip, seeds, steps, a.clips, a.fps)
    elif a.decide_decoder:
        with open(os.path.join(a.checkpoints, "decoder_sampling_selection.json")) as f:
            video = json.load(f)
        with open(os.path.join(a.checkpoints, "decoder_motion_selection.json")) as f:
            motion = json.load(f)
        settings = [(t, n, tuple(hold) if hold else None) for t, n, hold in video["settings"]]
        chosen = choose_decoder_sampling(video["table"], settings, motion["keeping"])
        print(json.dumps({"video": video["table"], "motion": motion["table"], "motion_keeping": motion["keeping"],
                          "chosen": decoder_choice(chosen)}, indent=1))
        return
    elif a.select_decoder:
        settings = decoder_settings(a.select_decoder)
        selection = "decoder_sampling", select_decoder(pipe, seeds, steps, settings, a.fps)
    if selection:
        name, res = selection
        with open(os.path.join(a.checkpoints, name + "_selection.json"), "w") as f:
            json.dump(res, f, indent=1)
        print(json.dumps({k: v for k, v in res.items() if k in ("table", "chosen", "chosen_window_keyframes")},
                         indent=1))
        return
    strengths = a.strengths or [pipe.inbetween_strength]
    if a.sheet:
        E.require_pil(f"--sheet {a.sheet} ('' for none)")
    t0 = time.time()
    unknown = [q for q in a.prompts if q not in VIDEO_PROMPTS]
    if unknown:
        raise SystemExit(f"not in VIDEO_PROMPTS: {unknown}")
    res = report(pipe, E.REPORT_SEEDS[:a.seeds], strengths, a.until, steps, a.fps, a.sheet or None, a.prompts,
                 os.path.join(a.checkpoints, a.tag + ".jsonl"), windows)
    res["minutes"] = round((time.time() - t0) / 60, 1)
    with open(os.path.join(a.checkpoints, a.tag + ".json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(a.checkpoints, a.tag + ".md"), "w") as f:
        f.write(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
