"""The training loop every stage shares: build the model, draw a batch, take a step, keep the EMA, save a
checkpoint every two minutes and at the end, resume from one."""
import copy
import math
import os
import time

import numpy as np
import torch

from .. import checkpoints as C
from .. import world as W
from ..data import Prefetcher
from ..recipe import BATCH, EXPORTS, LR, SEED, STAGES


def decayed_lr(lr, done, floor):
    """Cosine from lr to floor·lr over a run (done: the fraction of its budget spent), so a fine-tuning run settles
    instead of ending wherever its last noisy steps left it."""
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, done))))


class EMA:
    """Exponential moving average of weights, decay 0.999 with warm-up min(0.999, (1+n)/(10+n))."""

    def __init__(self, model, decay=0.999):
        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        self.n = 0

    @torch.no_grad()
    def update(self, model):
        d = min(self.decay, (1 + self.n) / (10 + self.n))
        self.n += 1
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.mul_(d).add_(p.detach(), alpha=1 - d)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)


class Stage:
    """A resumable training loop. A stage defines `name`, build() (self.model and any frozen models), data(step,
    progress) → a batch on the CPU, and loss(batch) → a scalar; trainable() when only part of the model trains.

    data depends only on the stage, the step and `progress` (the fraction of the run spent), never on state carried
    from step to step, so workers can render batches ahead (Prefetcher); noise, timesteps and condition dropout come
    from the stage's generator in loss()."""
    name = None
    frame_correlation = 0.0  # ρ of the clips' noise (losses.mixed_frame_noise); recorded so samplers match it

    def __init__(self, args):
        self.args = args
        self.root = args.checkpoints
        self.world = W.World(SEED)
        self.gen = torch.Generator().manual_seed(SEED + STAGES.index(self.name))
        self.device = torch.device(args.device)
        self.batch = BATCH[self.name] * args.batch_scale
        self.devices = set()  # every device this stage has trained on, across resumed runs
        self.step_n = 0
        self.elapsed = 0.0
        self.losses = []
        self.calibrated = {}  # calibration() of the last finished run; mid-run checkpoints carry none

    def trainable(self):
        """ids of the parameters that train, None for every one (a stage that fine-tunes part of a model says which)."""
        return None

    def calibration(self):
        """Entries measured on the EMA weights once a run has trained, saved in the checkpoint (none by default)."""
        return {}

    def params(self):
        """The parameters the optimiser gets; the others are frozen (requires_grad off)."""
        trainable = self.trainable()
        if trainable is None:
            return self.model.parameters()
        for p in self.model.parameters():
            p.requires_grad_(id(p) in trainable)
        return [p for p in self.model.parameters() if p.requires_grad]

    def rng(self, step):
        """numpy random numbers of one step's batch (crops, fps, frame skips)."""
        return np.random.default_rng([SEED, STAGES.index(self.name), step])

    def keep(self, n, p_drop):
        """Condition-dropout mask, 1 for the rows that keep their condition, drawn on the CPU generator."""
        return (torch.rand(n, generator=self.gen) >= p_drop).float().to(self.device)

    def save(self):
        C.write_ckpt(self.root, self.name, {
            "model": self.model.state_dict(), "ema": self.ema.model.state_dict(), "ema_n": self.ema.n,
            "opt": self.opt.state_dict(), "step": self.step_n, "elapsed": self.elapsed, "losses": self.losses,
            "gen": self.gen.get_state(), "batch": self.batch, "lr": LR[self.name],
            "devices": sorted(self.devices | {self.device.type}), "frame_noise_correlation": self.frame_correlation,
            **self.calibrated})

    def load(self):
        s = C.read_ckpt(self.root, self.name)
        ema = C.ema_weights(self.root, self.name, s)
        grown = C.load_grown(self.model, s.get("model", ema), self.name)  # a packed checkpoint holds EMA only
        C.load_grown(self.ema.model, ema, self.name)
        self.ema.n = s["ema_n"]
        if "opt" in s and not grown:  # new parameters: the optimiser's state no longer lines up, it starts afresh
            self.opt.load_state_dict(s["opt"])
        self.step_n, self.elapsed, self.losses = s["step"], s["elapsed"], s["losses"]
        self.devices = set(s.get("devices", ["cpu"]))
        self.gen.set_state(s["gen"])

    def load_exported(self):
        """Resume from the EMA weights in the model repository: a fresh checkout has no checkpoints/, but its models/
        hold what the last run exported. The optimiser starts afresh; step and time continue. Returns the stage's
        record in the manifest."""
        C.load_ema(self.root, self.name, self.model).train()
        self.ema.model.load_state_dict(self.model.state_dict())
        self.ema.n = 10_000  # past the warm-up: the EMA of a resumed model must not jump to the raw weights
        info = C.exported_info(C.MODELS_DIR, EXPORTS[self.name][0]).get(self.name) or {}
        self.step_n, self.elapsed = info.get("steps", 0), info.get("minutes", 0.0) * 60
        self.devices = set(info.get("devices", []))
        if info.get("final_loss") is not None:  # so the record it saves and exports keeps the loss it ended on
            self.losses = [(self.step_n, info["final_loss"])]
        return info

    def run(self):
        """Train until --minutes of this run or the stage's --steps count, whichever comes first. `progress`, which
        data() reads, is the stage's step count over --steps when that is given, else the run's time over --minutes."""
        os.makedirs(self.root, exist_ok=True)
        self.build()
        # workers fork now, before any model moves to the GPU
        prefetch = Prefetcher(self, self.args.workers) if getattr(self.args, "workers", 0) else None
        for m in vars(self).values():  # the trained model and the frozen ones it learns from (CLIP)
            if isinstance(m, torch.nn.Module):
                m.to(self.device)
        self.ema = EMA(self.model)
        self.opt = torch.optim.AdamW(self.params(), lr=LR[self.name], weight_decay=0.0)
        if self.args.resume and os.path.exists(C.ckpt_path(self.root, self.name)):
            self.load()
            print(f"[{self.name}] resumed at step {self.step_n} ({self.elapsed / 60:.1f} min)", flush=True)
        elif self.args.resume:
            self.load_exported()
            print(f"[{self.name}] no checkpoint: resumed from the exported {', '.join(EXPORTS[self.name])} in "
                  f"{C.MODELS_DIR} at step {self.step_n} ({self.elapsed / 60:.1f} min)", flush=True)
        budget = self.args.minutes * 60 if self.args.minutes is not None else None
        steps = self.args.steps
        t_start, last_save, window = time.time(), time.time(), []
        base, first_step = self.elapsed, self.step_n
        while True:
            run_time = time.time() - t_start
            if budget is not None and run_time >= budget:
                break
            if steps is not None and self.step_n >= steps:
                break
            progress = min(1.0, self.step_n / steps) if steps else min(1.0, run_time / budget) if budget else 0.5
            if getattr(self.args, "lr_decay", 0.0):
                done = run_time / budget if budget else (self.step_n - first_step) / max(1, steps - first_step)
                for g in self.opt.param_groups:
                    g["lr"] = decayed_lr(LR[self.name], done, self.args.lr_decay)
            self.model.train()
            loss = self.loss(prefetch.get(self.step_n, progress) if prefetch else self.data(self.step_n, progress))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            self.ema.update(self.model)
            self.step_n += 1
            window.append(loss.item())
            self.elapsed = base + time.time() - t_start
            if self.step_n % 25 == 0:
                self.losses.append((self.step_n, float(np.mean(window))))
                print(f"[{self.name}] step {self.step_n} loss {np.mean(window):.4f} "
                      f"{self.elapsed / 60:.1f} min", flush=True)
                window = []
            if time.time() - last_save > 120:
                self.save()
                last_save = time.time()
        if prefetch:
            prefetch.close()
        self.calibrated = self.calibration()
        self.save()
        print(f"[{self.name}] done: {self.step_n} steps, {self.elapsed / 60:.1f} min", flush=True)
