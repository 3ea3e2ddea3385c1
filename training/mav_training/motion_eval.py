"""How fast D^t's fish and arrows move, across the fps a request may ask (4-30), and the blend of its motion terms.

  python3 -m mav_training.motion_eval --select        # choose recipe.MOTION_TERM_BLEND and MOTION_FPS_EXPONENT
                                                     # on SELECTION_SEEDS (settings BLEND[:EXPONENT])
  python3 -m mav_training.motion_eval --select --seeds 2 --candidates 0.5 0.75:0.15 0.75:0.3
  python3 -m mav_training.motion_eval --seeds 1 --blends 0.5 0.75:0.3   # report settings side by side, REPORT_SEEDS
  python3 -m mav_training.motion_eval --select-decoder 0:50 0:50:1:0 200:25   # the decoder's guidance interval,
                                                     # steps and guided hold that keep the motion, SELECTION_SEEDS

The world moves every object at 0.05-0.12 frame-widths per second whatever the fps; a clip passes when its keyframes
move the way the prompt names at >= 70 % of the world's slowest speed (first -> last keyframe's centroid, along the
named axis, so a clip moving the other way counts negative); the selection also counts a clip over the world's
fastest by as much (1/0.7) as wrong. Shape and facing are read as evaluate.py reads them, so
that a blend that buys speed with broken shapes is seen. Keyframes only (64²): ↑F keeps the keyframes' path.
"""
import argparse
import json
import os

import numpy as np
import torch

from . import evaluate as E
from . import world as W
from .layers import blend_temporal_convs
from .recipe import MOTION_FPS_EXPONENT, MOTION_TERM_BLEND
from .video_eval import decoder_hold, decoder_label, decoder_settings

ORIENTED = [p for p in E.PROMPTS if W.caption_attributes(p).get("direction")]
# selection: two fish and two arrows, one of them a held-out pair (CPU time: 4 fps x candidates each)
SELECTION_PROMPTS = ["a fish swimming right, blue", "a yellow arrow pointing down on gray", "a green fish swimming left",
                     "a blue arrow pointing left on black"]
FPS = (4.0, 8.0, 16.0, 30.0)
MIN_SPEED = 0.7 * W.SPEED_RANGE[0]
# as far above the world's fastest as MIN_SPEED is below its slowest: faster is as wrong as slower
MAX_SPEED = W.SPEED_RANGE[1] / 0.7
# (motion-term blend, fps exponent γ): the motion terms' weight, and their time scaled by (fps / 8)^−γ
SHIPPED = (MOTION_TERM_BLEND, MOTION_FPS_EXPONENT)
CANDIDATES = ((0.5, 0.0), (0.75, 0.0), (1.0, 0.0), (0.75, 0.15), (0.75, 0.3))
AXIS = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}


def named_speed(cents, direction, fps):
    """Frame-widths per second along the named way, first -> last keyframe that shows the object (None: no object)."""
    ok = ~np.isnan(cents[:, 0])
    if ok.sum() < 2:
        return None
    idx = np.nonzero(ok)[0]
    d = cents[idx[-1]] - cents[idx[0]]
    along = float(np.dot(d, AXIS[direction]))
    return along / 64 / (float(idx[-1] - idx[0]) / fps)


def clip_row(pipe, prompt, seed, fps, steps=None, guidance_from=None, hold=None):
    want = W.caption_attributes(prompt)
    keys = pipe.generate(prompt, seed, fps, None, steps, until="keyframes",
                         guidance_from=guidance_from, hold=hold)["keyframes"][0].numpy()
    row, a = E.measure(prompt, seed, want, keys)
    speed = named_speed(a["centroids"], want["direction"], fps)
    row.update({"fps": fps, "speed": None if speed is None else round(speed, 4),
                "fast_ok": speed is not None and speed >= MIN_SPEED,
                "speed_ok": speed is not None and MIN_SPEED <= speed <= MAX_SPEED})
    return row


def summarise(rows):
    def share(key, sel):
        sel = [r for r in rows if sel(r)]
        k = sum(bool(r[key]) for r in sel)
        lo, hi = E.wilson(k, len(sel))
        return {"k": k, "n": len(sel), "rate": round(k / max(1, len(sel)), 3), "ci": [round(lo, 3), round(hi, 3)]}
    out = {}
    for name, sel in (("seen", lambda r: not r["held_out"]), ("held_out", lambda r: r["held_out"])):
        part = [r for r in rows if sel(r)]
        if not part:
            continue
        out[name] = {key: share(key, sel) for key in ("fast_ok", "speed_ok", "shape_ok", "facing_ok", "smooth_ok")}
        out[name]["median_speed_by_fps"] = median_speed_by_fps(part)
    return out


def median_speed_by_fps(rows):
    return {str(f): round(float(np.median([r["speed"] for r in rows if r["fps"] == f and r["speed"] is not None])), 4)
            for f in sorted({r["fps"] for r in rows})}


def motion_setting(text):
    """'BLEND[:EXPONENT]' -> (blend, exponent); the exponent defaults to 0 (time in seconds, as trained)."""
    blend, _, exponent = text.partition(":")
    return float(blend), float(exponent or 0.0)


def setting_label(setting):
    blend, exponent = setting
    return f"{blend}:{exponent}" if exponent else str(blend)


def with_motion_setting(pipe, setting, current):
    """D^t's motion terms moved from blend current[0] to setting[0] (its kernels stay), their time's fps exponent set."""
    dec = pipe.m["decoder"]
    blend_temporal_convs(dec, 1.0, setting[0] / current[0])
    dec.motion_fps_exponent = setting[1]
    return setting


def select(pipe, seeds, candidates=CANDIDATES):
    """Each candidate setting on the same prompts, seeds and fps, then `choose`."""
    seeds = E.check_seeds(seeds, "selection")
    current, results = SHIPPED, {}
    for setting in candidates:
        current = with_motion_setting(pipe, setting, current)
        results[setting] = []
        for p in SELECTION_PROMPTS:
            for s in seeds:
                for f in FPS:
                    results[setting].append(clip_row(pipe, p, s, f))
                    print(json.dumps({"motion_setting": setting_label(setting), **results[setting][-1]}), flush=True)
    return {"seeds": seeds, "prompts": SELECTION_PROMPTS, "fps": FPS, "speed_range": [MIN_SPEED, MAX_SPEED],
            **choose(results), "rows": {setting_label(b): rows for b, rows in results.items()}}


def select_decoder(pipe, seeds, settings):
    """The decoder's guidance interval, steps and guided hold (settings of (guidance_min_timestep, steps, hold), the
    first the reference) on the same prompts, seeds and fps; keeps_motion says which keep the reference's motion, for
    video_eval --decide-decoder."""
    seeds = E.check_seeds(seeds, "selection")
    results = {}
    for threshold, n, hold in settings:
        label = decoder_label(threshold, n, hold)
        results[label] = []
        for p in SELECTION_PROMPTS:
            for s in seeds:
                for f in FPS:
                    results[label].append(clip_row(pipe, p, s, f, {"decoder": n}, threshold, decoder_hold(hold)))
                    print(json.dumps({"setting": label, **results[label][-1]}), flush=True)
    labels = list(results)
    table = {label: counts(rows) for label, rows in results.items()}
    return {"seeds": seeds, "prompts": SELECTION_PROMPTS, "fps": FPS, "settings": settings, "table": table,
            "keeping": keeps_motion(table, labels), "rows": results}


def counts(rows):
    return {"speed_in_range": sum(bool(r["speed_ok"]) for r in rows), "fast": sum(bool(r["fast_ok"]) for r in rows),
            "shape": sum(bool(r["shape_ok"]) for r in rows), "facing": sum(bool(r["facing_ok"]) for r in rows),
            "smooth": sum(bool(r["smooth_ok"]) for r in rows), "clips": len(rows),
            "median_speed_by_fps": median_speed_by_fps(rows)}


def keeps_motion(table, labels):
    """The settings (labels, the first the reference) whose clips move the named way at a speed in the world's range
    as often as the reference's, with shape, facing and smoothness within one clip of it."""
    base = table[labels[0]]
    return [label for label in labels if table[label]["speed_in_range"] >= base["speed_in_range"]
            and all(table[label][k] >= base[k] - 1 for k in ("shape", "facing", "smooth"))]


def choose(results):
    """results: setting (blend, exponent) -> rows. Among settings whose shape and facing are within one clip of the
    shipped setting's (else the first's), the one with the most clips moving the named way at a speed in the world's
    range (MIN_SPEED-MAX_SPEED); ties go to the setting nearest the shipped one."""
    def count(setting, key):
        return sum(bool(r[key]) for r in results[setting])
    base = SHIPPED if SHIPPED in results else next(iter(results))
    keep = [b for b in results if all(count(b, k) >= count(base, k) - 1 for k in ("shape_ok", "facing_ok"))]
    chosen = max(keep, key=lambda b: (count(b, "speed_ok"), -abs(b[0] - base[0]) - abs(b[1] - base[1])))
    table = {setting_label(b): {"speed_in_range": count(b, "speed_ok"), "fast": count(b, "fast_ok"),
                                "shape": count(b, "shape_ok"), "facing": count(b, "facing_ok"),
                                "smooth": count(b, "smooth_ok"), "clips": len(rows),
                                "median_speed_by_fps": median_speed_by_fps(rows)}
             for b, rows in results.items()}
    return {"candidates": table, "chosen": setting_label(chosen)}


def report(pipe, seeds, settings=(SHIPPED,)):
    """Every oriented prompt at every fps, for each setting on the same seeds (today's file beside a candidate)."""
    seeds = E.check_seeds(seeds, "report")
    current, out = SHIPPED, {}
    for setting in settings:
        current = with_motion_setting(pipe, setting, current)
        rows = []
        for p in ORIENTED:
            for s in seeds:
                for f in FPS:
                    rows.append(clip_row(pipe, p, s, f))
                    print(json.dumps({"motion_setting": setting_label(setting), **rows[-1]}), flush=True)
        out[setting_label(setting)] = {"summary": summarise(rows), "rows": rows}
    return {"seeds": seeds, "prompts": ORIENTED, "fps": FPS, "speed_range": [MIN_SPEED, MAX_SPEED], "blends": out}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--select", action="store_true",
                   help="choose MOTION_TERM_BLEND and MOTION_FPS_EXPONENT on selection seeds")
    p.add_argument("--candidates", nargs="+", default=None, metavar="BLEND[:EXPONENT]",
                   help="select: the settings to compare (default: CANDIDATES)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per prompt and fps (the first of SELECTION/REPORT_SEEDS)")
    p.add_argument("--blends", nargs="+", default=[setting_label(SHIPPED)], metavar="BLEND[:EXPONENT]",
                   help="report: motion settings to measure side by side (default: the recipe's)")
    p.add_argument("--select-decoder", nargs="+", default=None, metavar="T:N[:R:M]",
                   help="the decoder's guidance_min_timestep T, steps N and guided hold (radius R, margin M) on "
                        "selection seeds, the first the reference")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from .sample import Pipeline
    pipe = Pipeline(a.checkpoints)
    os.makedirs(a.checkpoints, exist_ok=True)
    if a.select_decoder:
        res = select_decoder(pipe, E.SELECTION_SEEDS[:a.seeds], decoder_settings(a.select_decoder))
        with open(os.path.join(a.checkpoints, "decoder_motion_selection.json"), "w") as f:
            json.dump(res, f, indent=1)
        print(json.dumps({k: res[k] for k in ("table", "keeping")}, indent=1))
        return
    if a.select:
        candidates = [motion_setting(c) for c in a.candidates] if a.candidates else CANDIDATES
        res, name = select(pipe, E.SELECTION_SEEDS[:a.seeds], candidates), "motion_selection.json"
    else:
        res, name = report(pipe, E.REPORT_SEEDS[:a.seeds], [motion_setting(b) for b in a.blends]), "motion_eval.json"
    with open(os.path.join(a.checkpoints, name), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps({k: v for k, v in res.items() if k != "rows"} if a.select
                     else {b: r["summary"] for b, r in res["blends"].items()}, indent=1))


if __name__ == "__main__":
    main()
