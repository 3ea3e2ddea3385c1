"""Evaluation of the trained pipeline with the PyTorch reference sampler on prompts that are not training captions:
seen colour-shape pairs in new phrasings, and the held-out pairs (never in any caption), reported apart; plus a
contact sheet and per-model metrics for the manifests (checkpoints/metrics.json, read by the export).

  python3 -m mav_training.evaluate [--seeds 2] [--out ../docs]

Measured on the 64-px clips (keyframes from D^t, and the 76-frame ↑F output):
  colour      mean colour of the object's interior (foreground pixels whose four neighbours are foreground too)
              → nearest palette colour = prompt colour. Why the interior: edge pixels are blends with the
              background, and on a thin shape (an arrow's 2-3 px shaft) they outnumber the rest, so the mean of the
              whole foreground drifts toward the background (an orange arrow on white reads yellow) although the
              object is drawn in the right colour; the true render itself reads green 160 by the whole foreground
              and 141 by its interior (orange is 140)
  colour_mask the same over the whole foreground, the colour measure of the reports before 2026-12-04, kept beside it
  background  median border colour → nearest background = prompt background (when the prompt names one)
  shape       nearest template: IoU of the foreground mask with rendered templates of every shape (and facing) at
              the measured centroid and area; best = prompt shape
  facing      for fish/arrows the best template's facing = prompt direction
  motion      centroid displacement first → last keyframe, dominant axis = prompt direction (fish/arrows)
  jump        largest centroid displacement between consecutive keyframes; smooth when ≤ JUMP_PX (the world's
              fastest object moves under 1 px per keyframe at fps 8: a larger step is the object jumping,
              splitting or being redrawn elsewhere, which first → last motion does not see)
  speed       frame-widths per second at fps 4, 8, 16 for the same prompt and seed (world: 0.05-0.12, any fps)
  presence    fraction of frames with a foreground object (≥ 12 px)
  flicker     std over frames of the mean border colour, in 8-bit levels

Every right/wrong rate comes with its 95 % Wilson interval: with 24-48 samples a rate is known to about ±10
points, which decides whether a target is met or a change is an improvement.

  python3 -m mav_training.evaluate --report   # rewrites eval.md / metrics.json from checkpoints/eval.json
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch

from . import world as W

# Seen colour-shape pairs in phrasings that are not training captions (template mixes), then held-out pairs.
PROMPTS = [
    "a star that is yellow on a black background", "a circle that is orange on a white background",
    "a square that is red on a gray background", "a purple triangle, on a white background",
    "a green circle, on a gray background", "a fish swimming right, blue", "a fish swimming left, red, on a gray background",
    "a purple fish facing right on a white background", "a yellow arrow pointing down on gray",
    "an orange arrow pointing up on white", "a blue arrow pointing left on black", "a red arrow pointing right on black",
    "a red star on a white background", "a red star", "a blue triangle", "a purple square on a black background",
    "a green fish swimming left", "a green fish swimming right on a gray background",
]
# Seeds a setting is chosen on and seeds it is reported on, apart: a setting picked on the seeds of its report looks
# better there than it is. check_seeds enforces it for every choice made by code and for every report, this one too.
SELECTION_SEEDS = tuple(range(200, 300))
REPORT_SEEDS = tuple(range(300, 400))


def check_seeds(seeds, purpose):
    """Refuses seeds outside the set of `purpose` ("selection" or "report"), naming the offending ones."""
    allowed = {"selection": SELECTION_SEEDS, "report": REPORT_SEEDS}[purpose]
    bad = [s for s in seeds if s not in allowed]
    if bad:
        raise ValueError(f"seeds {bad} are not {purpose} seeds ({allowed[0]}-{allowed[-1]}): settings are chosen on "
                         f"SELECTION_SEEDS and reported on REPORT_SEEDS only")
    return list(seeds)


# 4× the world's fastest step between keyframes at fps 8 (0.12 frame-widths/s · 64 px / 8 fps ≈ 0.96 px)
JUMP_PX = 4.0
SPEED_PROMPTS = ["a green fish swimming right", "a yellow arrow pointing down"]


def require_pil(what):
    """Before sampling, not after it: an image (`what`) is written with PIL, which Debian ships apart from torch."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise SystemExit(f"{what} is written with PIL: apt-get install python3-pil")


def _nearest(rgb, table):
    ref = {k: W.unit_rgb(v) for k, v in table.items()}
    return min(ref, key=lambda k: np.sum((ref[k] - rgb) ** 2))


def analyse(clip):
    """clip: numpy [3, F, H, W] in [-1, 1] → per-clip measurements."""
    c, f, h, w = clip.shape
    border = np.concatenate([clip[:, :, 0], clip[:, :, -1], clip[:, :, :, 0], clip[:, :, :, -1]], axis=2)  # 3 f n
    bg = np.median(border.reshape(3, -1), axis=1)
    dist = np.sqrt(((clip - bg[:, None, None, None]) ** 2).sum(0))  # f h w
    fg = dist > 0.6
    areas = fg.reshape(f, -1).sum(1)
    present = areas >= 12
    cents = []
    for i in range(f):
        ys, xs = np.nonzero(fg[i])
        cents.append((xs.mean(), ys.mean()) if len(xs) else (np.nan, np.nan))
    cents = np.array(cents)
    inner = interior(fg)
    colour = _nearest(clip[:, inner].mean(1), W.COLOURS) if inner.any() else None
    colour_mask = _nearest(clip[:, fg].mean(1), W.COLOURS) if fg.any() else None
    flicker = float(np.std(border.mean(2), axis=1).mean() * 127.5)
    return {"bg": _nearest(bg, W.BACKGROUNDS), "colour": colour or colour_mask, "colour_mask": colour_mask, "fg": fg,
            "areas": areas, "present": present, "centroids": cents, "flicker": flicker}


def interior(fg):
    """[f, h, w] mask → the pixels of it whose four neighbours (in the same frame) are in it too."""
    inner = fg.copy()
    inner[:, 1:] &= fg[:, :-1]
    inner[:, :-1] &= fg[:, 1:]
    inner[:, :, 1:] &= fg[:, :, :-1]
    inner[:, :, :-1] &= fg[:, :, 1:]
    return inner


_AREAS = {}


def classify_shape(mask):
    """Nearest template (shape, facing) by IoU at the mask's centroid, at radii around its area."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 12:
        return None, None, 0.0
    cx, cy = (xs.mean() + 0.5) / mask.shape[1], (ys.mean() + 0.5) / mask.shape[0]
    area = len(xs)
    best = (None, None, -1.0)
    for shape in W.SHAPES:
        for d in W.ORIENTED.get(shape, [None]):
            radii = np.linspace(0.06, 0.32, 40)
            key = (shape, d, mask.shape[0])
            if key not in _AREAS:
                _AREAS[key] = [(W.render({"colour": "red", "shape": shape, "background": "black", "direction": d,
                                          "radius": r, "center": (0.5, 0.5)}, mask.shape[0])[0] > 0).sum()
                               for r in radii]
            sizes = np.array(_AREAS[key])
            # a few radii around the area match: the mask's threshold and sub-pixel position shift its area
            for r in radii[np.argsort(np.abs(sizes - area))[:4]]:
                sc = {"colour": "red", "shape": shape, "background": "black", "direction": d, "radius": r,
                      "center": (cx, cy)}
                tm = W.render(sc, mask.shape[0])[0] > 0
                # recentre on the template's own centroid (shapes are not centred on their bounding circle)
                ty, tx = np.nonzero(tm)
                if len(tx):
                    sc["center"] = (2 * cx - (tx.mean() + 0.5) / mask.shape[1],
                                    2 * cy - (ty.mean() + 0.5) / mask.shape[0])
                    tm = W.render(sc, mask.shape[0])[0] > 0
                iou = (tm & mask).sum() / max(1, (tm | mask).sum())
                if iou > best[2]:
                    best = (shape, d, float(iou))
    return best


def motion_direction(cents, min_px=1.5):
    ok = ~np.isnan(cents[:, 0])
    if ok.sum() < 2:
        return None, 0.0
    idx = np.nonzero(ok)[0]
    d = cents[idx[-1]] - cents[idx[0]]
    dist = float(np.hypot(*d))
    if dist < min_px:
        return "static", dist
    if abs(d[0]) >= abs(d[1]):
        return ("right" if d[0] > 0 else "left"), dist
    return ("down" if d[1] > 0 else "up"), dist


def max_jump(cents):
    """Largest centroid displacement in px between consecutive frames that show the object; None under 2."""
    c = cents[~np.isnan(cents[:, 0])]
    if len(c) < 2:
        return None
    return float(np.hypot(*np.diff(c, axis=0).T).max())


def measure(prompt, seed, want, keys):
    """The row of one sample: colour, shape (on the frame with the largest object), background, presence and, for
    fish and arrows, facing. keys: [3, F, H, W] in [-1, 1]. Returns the row and the analysis."""
    a = analyse(keys)
    shape, facing, iou = classify_shape(a["fg"][int(np.argmax(a["areas"]))])
    row = {"prompt": prompt, "seed": seed, "held_out": W.is_held_out(want.get("colour"), want.get("shape")),
           "colour_ok": a["colour"] == want.get("colour"), "colour": a["colour"],
           "colour_mask_ok": a["colour_mask"] == want.get("colour"), "colour_mask": a["colour_mask"],
           "shape_ok": shape == want.get("shape"), "shape": shape, "iou": round(iou, 2),
           "bg_ok": (a["bg"] == want["background"]) if "background" in want else None, "bg": a["bg"],
           "present_keyframes": float(a["present"].mean())}
    jump = max_jump(a["centroids"])
    row["jump_px"] = None if jump is None else round(jump, 1)
    row["smooth_ok"] = None if jump is None else jump <= JUMP_PX  # None: one frame (text-to-image) or no object
    if "direction" in want:
        row["facing_ok"] = facing == want["direction"]
    return row, a


def run(checkpoints, seeds, out_docs, steps, with_interp=True, guidance=None):
    from .sample import STEPS, Pipeline, to_uint8
    pipe = Pipeline(checkpoints)
    corpus = set(W.all_captions(0, 20000))
    rows, samples = [], {}
    for prompt in PROMPTS:
        want = W.caption_attributes(prompt)
        for seed in seeds:
            t0 = time.time()
            out = pipe.generate(prompt, seed, 8.0, guidance, steps,
                                until="interpolator" if (with_interp and seed == seeds[0]) else "keyframes")
            row, a = measure(prompt, seed, want, out["keyframes"][0].numpy())
            row["seen_caption"] = prompt in corpus
            row["flicker_keyframes"] = round(a["flicker"], 2)
            if "direction" in want:
                mdir, _ = motion_direction(a["centroids"])
                row["motion"] = mdir
                row["motion_ok"] = mdir == want["direction"]
            if "frames_64" in out:
                b = analyse(out["frames_64"][0].numpy())
                row["present_76"] = float(b["present"].mean())
                row["flicker_76"] = round(b["flicker"], 2)
                samples[prompt] = out
            row["seconds"] = round(time.time() - t0, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    # speed across fps
    speed = []
    for prompt in SPEED_PROMPTS:
        for fps in (4.0, 8.0, 16.0):
            out = pipe.generate(prompt, seeds[0], fps, guidance, steps, until="keyframes")
            a = analyse(out["keyframes"][0].numpy())
            _, dist = motion_direction(a["centroids"], 0.0)
            speed.append({"prompt": prompt, "fps": fps, "frame_widths_per_s": round(dist / 64 / (15 / fps), 4)})
            print(json.dumps(speed[-1]), flush=True)
    summary = summarise(rows, speed)
    # contact sheet: 4 keyframes at 4×, first frame after SR^t_l (256) and SR_h (768 shown at 256)
    sheet_rows = []
    for prompt in [PROMPTS[i] for i in (0, 5, 8, 11, 12, 16)]:
        out = samples.get(prompt) or pipe.generate(prompt, seeds[0], 8.0, guidance, steps, until="interpolator")
        short = out["frames_64"][:, :, :2]
        f256 = pipe.sr_low(short, torch.Generator().manual_seed(0), steps.get("sr_low", STEPS["sr_low"]))
        f768 = pipe.sr_high(f256[:, :, :1], torch.Generator().manual_seed(0), steps.get("sr_high", STEPS["sr_high"]))
        keys = to_uint8(out["keyframes"])
        tiles = [np.kron(keys[i], np.ones((4, 4, 1), dtype=np.uint8)) for i in (0, 5, 10, 15)]
        tiles.append(to_uint8(f256)[0])
        tiles.append(to_uint8(f768)[0][::3, ::3])
        sheet_rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in tiles], 1))
    sheet = np.concatenate(sheet_rows, 0)
    os.makedirs(os.path.join(out_docs, "img"), exist_ok=True)
    from PIL import Image
    Image.fromarray(sheet).save(os.path.join(out_docs, "img", "contact-sheet.png"))
    return rows, speed, summary, pipe.timings


@torch.no_grad()
def run_images(pipe, seeds, steps, guidance=None):
    """Text-to-image through prior and D alone (step 3 of the recipe): one frame per prompt and seed, measured as
    a keyframe is. Cheap (no video, no ↑F), so it can follow D while it trains."""
    rows = []
    for prompt in PROMPTS:
        want = W.caption_attributes(prompt)
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            img = pipe.keyframes(pipe.image_embed(prompt, gen), gen, 8.0, guidance, steps["decoder"], frames=1)
            row, _ = measure(prompt, seed, want, img[0].numpy())
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


RIGHT_OR_WRONG = ("colour_ok", "colour_mask_ok", "shape_ok", "bg_ok", "facing_ok", "motion_ok", "smooth_ok")


def wilson(k, n, z=1.96):
    """95 % Wilson score interval of k successes in n trials (keeps inside [0, 1] and is sound at k = 0 or n,
    where the normal approximation collapses to a point)."""
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)]


def summarise(rows, speed):
    def values(key, subset):
        return [r[key] for r in subset if r.get(key) is not None]

    def rate(key, subset):
        v = values(key, subset)
        return round(float(np.mean(v)), 3) if v else None
    s = {}
    for group, subset in (("seen_pairs", [r for r in rows if not r["held_out"]]),
                          ("held_out_pairs", [r for r in rows if r["held_out"]])):
        s[group] = {k: rate(k, subset) for k in RIGHT_OR_WRONG + ("jump_px", "present_keyframes", "present_76",
                                                                  "flicker_keyframes", "flicker_76")}
        s[group]["samples"] = len(subset)
        s[group]["ci95"] = {k: wilson(sum(map(bool, v)), len(v))
                            for k in RIGHT_OR_WRONG for v in [values(k, subset)] if v}
    s["captions_among_prompts"] = sum(r.get("seen_caption", False) for r in rows)
    by_prompt = {}
    for sp in speed:
        by_prompt.setdefault(sp["prompt"], []).append(sp["frame_widths_per_s"])
    s["speed_fw_per_s"] = {p: v for p, v in by_prompt.items()}
    s["speed_ratio_max_min"] = {p: round(max(v) / max(1e-6, min(v)), 2) for p, v in by_prompt.items()}
    return s


def manifest_metrics(summary, steps):
    """What each model's manifest reports (export reads checkpoints/metrics.json)."""
    seen, held = summary["seen_pairs"], summary["held_out_pairs"]
    pick = lambda d, keys: {k: d[k] for k in keys}
    video = ("colour_ok", "colour_mask_ok", "shape_ok", "bg_ok", "facing_ok", "motion_ok", "smooth_ok", "jump_px",
             "present_keyframes", "flicker_keyframes")
    return {
        "text_encoder": pick(summary, [k for k in summary if k.startswith("clip_")]),
        "prior": pick(summary, [k for k in summary if k.startswith("prior_")]),
        "decoder": {"sampling_steps": steps["decoder"], "seen_pairs": pick(seen, video),
                    "held_out_pairs": pick(held, video), "speed_ratio_max_min": summary["speed_ratio_max_min"]},
        "interpolator": {"sampling_steps": steps["interpolator"], "present_76": seen["present_76"],
                         "flicker_76": seen["flicker_76"]},
    }


@torch.no_grad()
def clip_prior_metrics(pipe, n_images=300, prior_seeds=2):
    """CLIP zero-shot attribute accuracy on images (held-out pairs included) and prior top-1 accuracy: the prior's
    embedding for "a {colour} {shape}" is nearest to the centroid of that pair's image embeddings."""
    clip, tok = pipe.m["clip"], pipe.tok
    w = W.World(123)
    imgs, scenes = [], []
    for i in range(n_images):
        img, _, sc = w.image_pair(i, 64, allow_held_out=True)
        imgs.append(img)
        scenes.append(sc)
    ie = clip.image(torch.from_numpy(np.stack(imgs)))
    cands = [(c, s, b) for c in W.COLOURS for s in W.SHAPES for b in W.BACKGROUNDS]
    ids = torch.tensor([tok.encode(f"a {c} {s} on a {b} background") for c, s, b in cands])
    te, _ = clip.text(ids)
    best = (ie @ te.t()).argmax(1)
    res = {"clip_colour": 0, "clip_shape": 0, "clip_background": 0}
    held = {"n": 0, "colour": 0, "shape": 0}
    for sc, b in zip(scenes, best.tolist()):
        c, s, bg = cands[b]
        res["clip_colour"] += c == sc["colour"]
        res["clip_shape"] += s == sc["shape"]
        res["clip_background"] += bg == sc["background"]
        if W.is_held_out(sc["colour"], sc["shape"]):
            held["n"] += 1
            held["colour"] += c == sc["colour"]
            held["shape"] += s == sc["shape"]
    out = {k: round(v / n_images, 3) for k, v in res.items()}
    if held["n"]:
        out["clip_held_out_colour"] = round(held["colour"] / held["n"], 3)
        out["clip_held_out_shape"] = round(held["shape"] / held["n"], 3)
    # prior
    cent = {}
    for e, sc in zip(ie, scenes):
        cent.setdefault((sc["colour"], sc["shape"]), []).append(e)
    keys = list(cent)
    C = torch.nn.functional.normalize(torch.stack([torch.stack(cent[k]).mean(0) for k in keys]), dim=-1)
    ok = {"seen": [], "held_out": []}
    for c in W.COLOURS:
        for s in W.SHAPES:
            if (c, s) not in cent:
                continue
            for seed in range(prior_seeds):
                emb = pipe.image_embed(f"a {c} {s}", torch.Generator().manual_seed(seed))
                k = keys[int((emb @ C.t()).argmax())]
                ok["held_out" if W.is_held_out(c, s) else "seen"].append(k == (c, s))
    out["prior_top1_seen"] = round(float(np.mean(ok["seen"])), 3)
    out["prior_top1_held_out"] = round(float(np.mean(ok["held_out"])), 3) if ok["held_out"] else None
    return out


def markdown(res):
    """The evaluation section of docs/models.md."""
    s = res["summary"]
    pct = lambda v: "–" if v is None else f"{100 * v:.0f} %"
    seen, held = s["seen_pairs"], s["held_out_pairs"]

    def with_ci(group, k):
        ci = group.get("ci95", {}).get(k)
        return pct(group.get(k)) + (f" ({100 * ci[0]:.0f}–{100 * ci[1]:.0f})" if ci else "")
    lines = [f"| measure (95 % interval) | seen pairs, new phrasings ({seen['samples']} samples) | held-out pairs "
             f"({held['samples']} samples) |", "|---|---|---|"]
    for k, label in [("colour_ok", "colour right (nearest palette colour of the object's interior)"),
                     ("colour_mask_ok", "colour right by the whole foreground's mean (the measure until 2026-12-04)"),
                     ("shape_ok", "shape right (nearest template)"),
                     ("bg_ok", "background right (prompts that name one)"),
                     ("facing_ok", "facing right (fish, arrows: best template's orientation)"),
                     ("motion_ok", "moves the way the prompt says (fish, arrows; centroid, first → last keyframe)"),
                     ("smooth_ok", f"smooth: no centroid jump over {JUMP_PX:g} px between consecutive keyframes"),
                     ("present_keyframes", "object present, keyframes"), ("present_76", "object present, 76 frames")]:
        lines.append(f"| {label} | {with_ci(seen, k)} | {with_ci(held, k)} |")
    for k, label in [("jump_px", "largest jump between consecutive keyframes, px at 64² (mean over samples)"),
                     ("flicker_keyframes", "background flicker, keyframes (8-bit levels, std over frames)"),
                     ("flicker_76", "background flicker, 76 frames")]:
        lines.append(f"| {label} | {seen.get(k)} | {held.get(k)} |")
    lines += ["", "| text side | value |", "|---|---|"]
    for k, label in [("clip_colour", "CLIP zero-shot colour (300 images)"), ("clip_shape", "CLIP zero-shot shape"),
                     ("clip_background", "CLIP zero-shot background"),
                     ("clip_held_out_colour", "CLIP colour, held-out pairs"),
                     ("clip_held_out_shape", "CLIP shape, held-out pairs"),
                     ("prior_top1_seen", "prior: embedding nearest the right colour-shape centroid, seen pairs"),
                     ("prior_top1_held_out", "prior: same, held-out pairs")]:
        lines.append(f"| {label} | {pct(s.get(k))} |")
    lines.append("")
    lines.append("Speed (frame-widths per second, same prompt and seed) at fps 4 / 8 / 16; the world's speeds are "
                 "0.05–0.12 at every fps:")
    lines.append("")
    lines.append("| prompt | fps 4 | fps 8 | fps 16 | max/min |")
    lines.append("|---|---|---|---|---|")
    for p, v in s["speed_fw_per_s"].items():
        lines.append(f"| {p} | " + " | ".join(f"{x:.3f}" for x in v) + f" | {s['speed_ratio_max_min'][p]} |")
    lines.append("")
    seeds = sorted({r["seed"] for r in res["rows"]})
    lines.append(f"Per sample (seeds {', '.join(map(str, seeds))}, fps 8, guidance {res['guidance']:g}; 76 frames "
                 f"from seed {seeds[0]} only):")
    lines.append("")
    lines.append("| prompt | held out | seed | colour | shape (IoU) | background | facing | motion | jump px |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    mark = lambda ok: "" if ok is None else ("✓" if ok else "✗")
    whole = lambda r: "" if r.get("colour_mask", r["colour"]) == r["colour"] else f" (whole: {r['colour_mask']})"
    for r in res["rows"]:
        lines.append(f"| {r['prompt']} | {mark(r['held_out']) if r['held_out'] else ''} | {r['seed']} | {r['colour']} {mark(r['colour_ok'])}{whole(r)} | {r['shape']} "
                     f"({r['iou']}) {mark(r['shape_ok'])} | {r['bg']} {mark(r['bg_ok'])} | "
                     f"{mark(r.get('facing_ok'))} | {r.get('motion', '')} {mark(r.get('motion_ok'))} | "
                     f"{r.get('jump_px', '')} {mark(r.get('smooth_ok'))} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--seeds", type=int, default=2, help="samples per prompt")
    p.add_argument("--first-seed", type=int, default=REPORT_SEEDS[0],
                   help="seeds first-seed … first-seed+seeds-1, inside REPORT_SEEDS (text-to-image: any)")
    p.add_argument("--out", default="../docs")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--decoder-steps", type=int, default=None, help="default: its manifest's")
    p.add_argument("--interpolator-steps", type=int, default=None, help="default: its manifest's")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance of the decoder (default: its manifest's; the prior uses its own)")
    p.add_argument("--report", action="store_true",
                   help="sample nothing: summarise checkpoints/eval.json's rows again and rewrite its reports")
    p.add_argument("--images", action="store_true",
                   help="text-to-image only (prior → D, one frame): writes checkpoints/eval_images.json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    seeds = range(a.first_seed, a.first_seed + a.seeds)
    from .export import DEFAULT_SCHED
    steps = {"decoder": a.decoder_steps or DEFAULT_SCHED["decoder"]["default_steps"],
             "interpolator": a.interpolator_steps or DEFAULT_SCHED["interpolator"]["default_steps"]}
    if a.guidance is None:
        a.guidance = DEFAULT_SCHED["decoder"]["default_guidance_scale"]
    if a.report:
        write_reports(a.checkpoints, report_again(a.checkpoints))
        return
    from .sample import Pipeline
    if a.images:
        # D itself: a D^t on disk may hold the spatial weights of an older D
        rows = run_images(Pipeline(a.checkpoints, "decoder"), seeds, steps, a.guidance)
        summary = summarise(rows, [])
        with open(os.path.join(a.checkpoints, "eval_images.json"), "w") as f:
            json.dump({"summary": summary, "rows": rows, "steps": steps, "guidance": a.guidance}, f, indent=1)
        print(json.dumps(summary, indent=1))
        return
    seeds = check_seeds(seeds, "report")
    require_pil(os.path.join(a.out, "img", "contact-sheet.png"))
    cp = clip_prior_metrics(Pipeline(a.checkpoints))
    print(json.dumps(cp), flush=True)
    rows, speed, summary, timings = run(a.checkpoints, seeds, a.out, steps, guidance=a.guidance)
    summary.update(cp)
    write_reports(a.checkpoints, {"summary": summary, "rows": rows, "speed": speed, "steps": steps,
                                  "guidance": a.guidance})


def report_again(checkpoints):
    """eval.json summarised again from its rows and speeds; the text side's figures are kept as measured."""
    with open(os.path.join(checkpoints, "eval.json")) as f:
        res = json.load(f)
    summary = summarise(res["rows"], res["speed"])
    summary.update({k: v for k, v in res["summary"].items() if k.startswith(("clip_", "prior_"))})
    return dict(res, summary=summary)


def write_reports(checkpoints, res):
    with open(os.path.join(checkpoints, "eval.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(checkpoints, "eval.md"), "w") as f:
        f.write(markdown(res))
    with open(os.path.join(checkpoints, "metrics.json"), "w") as f:
        json.dump(manifest_metrics(res["summary"], res["steps"]), f, indent=1)
    print(json.dumps(res["summary"], indent=1))


if __name__ == "__main__":
    main()
