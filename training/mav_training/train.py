"""Training by the Make-A-Video recipe on the synthetic world, in resumable stages, on CPU or a CUDA GPU.

  python3 -m mav_training.train all --minutes 60       # every stage from scratch to today's recipe, 60 min a run:
                                                       # run it again and it goes on from checkpoints/
  python3 -m mav_training.train all --plan             # where each stage stands and how long the rest takes
  python3 -m mav_training.train --stage decoder --minutes 20 --resume   # one stage, on from its checkpoint
  python3 -m mav_training.train all --device cuda --batch-scale 8 --workers 12 --minutes 30

Stages, in order (each saves checkpoints/<stage>.pt: raw and EMA weights, optimiser, generator, loss history):
  tokenizer      BPE on the captions (held-out colour-shape pairs never appear)            tokenizer.build
  clip           text + image encoders, contrastive, on image-caption pairs                stages/clip.py
  prior          diffusion prior, text → CLIP image embedding                              stages/prior.py
  decoder        D: 64² images from the CLIP image embedding, temporal layers skipped      stages/decoder.py
  decoder_video  D^t: temporal layers on, unlabelled 16-frame clips, only they train       stages/decoder.py
  interpolator   ↑F: D^t fine-tuned with masked frames + mask channels and frame skip      stages/interpolator.py
  sr_low         SR^t_l: 64 → 256 spatiotemporal, on crops                                 stages/sr_low.py
  sr_high        SR_h: 256 → 768 per frame, on crops                                       stages/sr_high.py
The recipe's numbers are in recipe.py, the data in data.py, the losses in losses.py, checkpoints in checkpoints.py.
A stage that ends exports its model to --out. Data and random numbers are made on the CPU whatever the device, so a
batch is the same on CPU and GPU; a checkpoint holds CPU tensors, so training can move between machines.
"""
import argparse
import copy
import math
import os
import sys
import time

import torch

from . import checkpoints as C
from . import tokenizer as tk
from .export import export_all
from .recipe import DEFAULT_MINUTES, EXPORTS, SEED, STAGES, TARGET_STEPS
from .stages import STAGE_CLASSES


def export(args, names):
    models, e, tok_path, training, metrics, extra = C.load_for_export(args.checkpoints)
    export_all(models, args.out, tok_path, e, "1", training, metrics, extra_params=extra, only=names,
               fixtures_root=args.checkpoints)


def tokenizer_file(root):
    return os.path.join(root, "tokenizer", "tokenizer.json")


def target(stage, args):
    """`train all`'s step count for a stage: the recipe's, divided by --batch-scale so it sees as many samples."""
    return math.ceil(TARGET_STEPS[stage] / args.batch_scale)


def record(args, stage):
    """The stage's training record in the manifest it exported to --out, {} if none."""
    try:
        return C.exported_info(args.out, EXPORTS[stage][0]).get(stage) or {}
    except (OSError, KeyError, ValueError):
        return {}


def plan(args):
    """Prints each stage's steps done and to go, and what the rest takes at the rate per step of the stage's record
    in --out (the last export: the shipped weights, or this run's once it has exported the stage): a fair guess only
    on the same kind of device and --batch-scale."""
    print(f"{'stage':14} {'steps done / target':>22}  {'record in ' + args.out:44} to go at its rate", flush=True)
    built = os.path.exists(tokenizer_file(args.checkpoints))
    print(f"{'tokenizer':14} {'built' if built else 'to build':>22}", flush=True)
    for st in STAGES[1:]:
        done, goal, rec = C.checkpoint_step(args.checkpoints, st), target(st, args), record(args, st)
        seen, togo = "none", "unknown"
        if rec.get("steps") and rec.get("minutes"):
            seen = (f"{rec['steps']:,} steps × {rec.get('batch')} in {rec['minutes']} min "
                    f"({', '.join(rec.get('devices', []))})")
            togo = f"{max(0, goal - done) * rec['minutes'] / rec['steps']:.0f} min"
        print(f"{st:14} {f'{done:,} / {goal:,}':>22}  {seen:44} {togo}", flush=True)


def train_all(args):
    """Every stage from scratch to the recipe's step counts, in order, resuming from checkpoints/ (never from the
    model repository: that would not be from scratch) and stopping when --minutes of this run are spent."""
    deadline = time.time() + args.minutes * 60 if args.minutes is not None else None
    plan(args)
    if args.plan:
        return
    if not os.path.exists(tokenizer_file(args.checkpoints)):
        tk.build(os.path.dirname(tokenizer_file(args.checkpoints)), SEED)
    for st in STAGES[1:]:
        goal = target(st, args)
        if C.checkpoint_step(args.checkpoints, st) < goal:
            left = deadline - time.time() if deadline is not None else None
            if left is not None and left <= 0:
                print(f"[all] this run's {args.minutes} min are spent; run the same command again to go on with {st}",
                      flush=True)
                return
            run = copy.copy(args)
            run.resume = os.path.exists(C.ckpt_path(args.checkpoints, st))
            run.steps, run.minutes = goal, (left / 60 if left is not None else None)
            STAGE_CLASSES[st](run).run()
            if C.checkpoint_step(args.checkpoints, st) < goal:
                print(f"[all] this run's {args.minutes} min are spent; run the same command again to go on with {st}",
                      flush=True)
                return
        if not args.no_export and record(args, st).get("steps") != goal:
            export(args, EXPORTS[st])
    print("[all] every stage is at its recipe's step count", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    choices = STAGES + ["all", "export", "pack"]
    p.add_argument("stage_arg", nargs="?", choices=choices, metavar="STAGE", help="the same as --stage")
    p.add_argument("--stage", choices=choices)
    p.add_argument("--minutes", type=float, default=None,
                   help="time budget of this run: for one stage (default per stage), for `all` the whole run")
    p.add_argument("--steps", type=int, default=None,
                   help="stop when the stage's step count (resumed steps included) reaches this; with --resume and "
                        "the current count it only re-syncs and saves (D^t takes D's spatial weights)")
    p.add_argument("--resume", action="store_true", help="one stage: on from its checkpoint, else from --out")
    p.add_argument("--plan", action="store_true", help="`all`: print where each stage stands and stop")
    p.add_argument("--lr-decay", type=float, default=0.0, metavar="FLOOR",
                   help="anneal the learning rate by a cosine over the run (--minutes or --steps) down to FLOOR × "
                        "the stage's rate, e.g. 0.1 for a fine-tuning run; 0 (default) keeps it constant")
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--out", default="../models")
    p.add_argument("--no-export", action="store_true")
    p.add_argument("--pack-dir", default=None, help="--stage pack: where the EMA-only checkpoints go")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--workers", type=int, default=0,
                   help="processes that render batches ahead (0: in the training loop; a GPU wants 8-16)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N; data is made on the CPU either way")
    p.add_argument("--batch-scale", type=int, default=1,
                   help="multiply every stage's batch (a GPU wants 8-32); the learning rates stay as they are")
    a = p.parse_args()
    if a.stage and a.stage_arg and a.stage != a.stage_arg:
        p.error(f"two stages named: {a.stage_arg} and --stage {a.stage}")
    a.stage = a.stage or a.stage_arg
    if not a.stage:
        p.error("name a stage, or all")
    if a.stage == "all" and (a.steps is not None or a.lr_decay or a.resume):
        p.error("all trains every stage to recipe.TARGET_STEPS at a constant rate and always resumes from "
                "checkpoints/; --steps, --lr-decay and --resume are for one stage")
    C.MODELS_DIR = a.out
    torch.set_num_threads(a.threads)
    if a.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(SEED)
    if a.stage == "all":
        train_all(a)
    elif a.stage == "export":
        export(a, None)
    elif a.stage == "pack":
        C.pack(a.checkpoints, a.pack_dir or os.path.join(a.checkpoints, "packed"))
    elif a.stage == "tokenizer":
        tk.build(os.path.dirname(tokenizer_file(a.checkpoints)), SEED)
    else:
        args = copy.copy(a)
        if args.minutes is None and args.steps is None:
            args.minutes = DEFAULT_MINUTES[a.stage]
        STAGE_CLASSES[a.stage](args).run()
        if not a.no_export:
            export(a, EXPORTS[a.stage])


if __name__ == "__main__":
    sys.exit(main())
