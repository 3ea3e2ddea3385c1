"""PyTorch side of `./mav bench --compare`: times the shipped weights (restored from ../models when checkpoints/ lacks
them) at each stage's working shapes, as many calls as the stage makes at its default steps.

  python3 -m mav_training.time_models PLAN.json [--threads 2]

PLAN.json is written by the Java bench (mav.local.ModelPlan): {"stages": [{"stage", "model", "calls", "inputs":
[{"name", "dtype", "shape", "fill"}], "timed"}]}; fill is "normal" (N(0, 0.25)) or a constant. One call per entry
warms up (as a service's warm-up does), then `timed` of its `calls` calls are timed (every call has the same shapes)
and scaled to `calls`. Prints one JSON line per entry: stage, model, calls, timed, seconds.
"""
import argparse
import json
import sys
import time

import torch

from .graphs import graph_for
from .checkpoints import load_for_export


def make_input(spec, gen):
    shape = spec["shape"]
    if spec["dtype"] == "int64":
        return torch.full(shape, int(spec["fill"]), dtype=torch.int64)
    if spec["fill"] == "normal":
        return torch.randn(*shape, generator=gen) * 0.5
    return torch.full(shape, float(spec["fill"]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("plan")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpoints", default="checkpoints")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.plan) as f:
        plan = json.load(f)
    models = load_for_export(a.checkpoints)[0]
    gen = torch.Generator().manual_seed(0)
    for entry in plan["stages"]:
        graph = graph_for(entry["model"], models).eval()
        args = [make_input(s, gen) for s in entry["inputs"]]
        with torch.no_grad():
            graph(*args)
            timed = entry.get("timed", entry["calls"])
            t0 = time.perf_counter()
            for _ in range(timed):
                graph(*args)
            seconds = (time.perf_counter() - t0) * entry["calls"] / timed
        print(json.dumps({"stage": entry["stage"], "model": entry["model"], "calls": entry["calls"], "timed": timed,
                          "seconds": round(seconds, 3)}), flush=True)
        print(f"torch {entry['model']}: {entry['calls']} calls {seconds:.2f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
