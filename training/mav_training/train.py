"""Training by the Make-A-Video recipe on the synthetic world, in resumable stages, on CPU or a CUDA GPU.

  python3 -m mav_training.train --stage all            # everything, in order, then export to ../models
  python3 -m mav_training.train --stage decoder --minutes 20 --resume
  python3 -m mav_training.train --stage all --device cuda --batch-scale 8 --minutes 30

Stages (each saves checkpoints/<stage>.pt with raw and EMA weights, optimiser state and loss history):
  tokenizer      BPE on the captions (held-out colour-shape pairs never appear)
  clip           text + image encoders, contrastive, on image-caption pairs
  prior          diffusion prior (x0 prediction), text → CLIP image embedding, condition dropout 10%
  decoder        D: 64×64 images conditioned on the CLIP image embedding (eps, cosine), dropout 10%
  decoder_video  D^t: temporal layers active; unlabelled 16-frame clips conditioned on the first frame's
                 embedding and on fps (fps distribution moves from high to low during training)
  interpolator   ↑F: fine-tuned from D^t with masked frames + mask channels (zero-initialised) and frame skip
  sr_low         SR^t_l: 64 → 256 spatiotemporal, random 64×64 crops of 256-px clips
  sr_high        SR_h: 256 → 768 per frame, random 96×96 crops
Each stage runs for --minutes (or --steps) with torch.set_num_threads(--threads) and exports its model to --out.
Data and random numbers are made on the CPU whatever the device, so a batch is the same on CPU and GPU; a
checkpoint holds CPU tensors, so training can move between machines with --resume.
"""
import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import tokenizer as tk
from . import world as W
from .clip import CLIP
from .layers import blend_temporal_convs
from .prior import DiffusionPrior, image_embed_scale
from .schedulers import alphas_cumprod
from .unet import SpaceTimeUNet, decoder_config, interpolator_config, sr_high_config, sr_low_config

E = 64
SEED = 0
STAGES = ["tokenizer", "clip", "prior", "decoder", "decoder_video", "interpolator", "sr_low", "sr_high"]
DEFAULT_MINUTES = {"clip": 5, "prior": 16, "decoder": 25, "decoder_video": 15, "interpolator": 8, "sr_low": 7,
                   "sr_high": 6}
BATCH = {"clip": 128, "prior": 128, "decoder": 32, "decoder_video": 4, "interpolator": 3, "sr_low": 4,
         "sr_high": 8}
LR = {"clip": 1e-3, "prior": 5e-4, "decoder": 1e-3, "decoder_video": 5e-4, "interpolator": 3e-4, "sr_low": 5e-4,
      "sr_high": 5e-4}
AC = torch.tensor(alphas_cumprod("squaredcos_cap_v2"), dtype=torch.float32)


def decayed_lr(lr, done, floor):
    """Cosine from lr to floor·lr over a run (done: the fraction of its budget spent). Why: a run resumed at the
    constant rate ends wherever its last noisy steps left the weights; annealing lets a fine-tuning run settle.
    (It was tried against D's orange-on-white drift and did not cure it: docs/models.md §4.)"""
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, done))))


def ckpt_path(root, stage):
    return os.path.join(root, f"{stage}.pt")


def load_grown(model, state, stage):
    """load_state_dict that lets a model have layers its checkpoint lacks, as long as they are layers that start as
    a no-op (zero-initialised, like temporal layers when D becomes D^t, or image tokens added to a trained D): a
    trained stage resumes after the architecture grew. Returns the names that kept their initial values."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"[{stage}] checkpoint has weights the model lacks: {unexpected[:5]}")
    if missing:
        print(f"[{stage}] {len(missing)} new weights start from their initial values: {missing[:4]}...", flush=True)
    return missing


def read_ckpt(root, stage):
    return torch.load(ckpt_path(root, stage), map_location="cpu")


def ema_weights(root, stage, ckpt):
    if "ema" not in ckpt:
        raise SystemExit(f"{ckpt_path(root, stage)} holds only the training record of {stage} (packed after a later "
                         "stage); its weights are in the full checkpoint of the machine that trained it")
    return ckpt["ema"]


def to_cpu(obj):
    if torch.is_tensor(obj):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


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


GAMMA = 5.0


def mixed_frame_noise(independent, shared, rho):
    """[b, c, f, h, w] noise whose frames are correlated by rho: √(1−ρ)·independent + √ρ·shared (shared has f = 1)."""
    return math.sqrt(1 - rho) * independent + math.sqrt(rho) * shared


FRAME_NOISE_CORRELATION = 0.5  # D^t's ρ in training, kept in its checkpoint record
# D^t's samplers start from frame noise with a larger ρ than it trained on (the manifest's frame_noise_correlation).
# Each frame's noise is still N(0, 1), as in training; only the share the frames have in common grows. Why: at the
# trained 0.5 a third of the clips jump or split between keyframes, and most clips with a wrong shape are among
# them; more common noise makes the first, decisive sampling steps start every frame from nearly the same scene.
# It costs motion, which came from the noise of those steps (most clips stand still). Chosen on seeds the report
# does not use (docs/models.md §9).
SAMPLING_FRAME_NOISE_CORRELATION = 0.9
# D and D^t draw t with density ∝ t: the object's place, shape and colour are settled at high t (at t = 960 a
# 20-px object is still only just visible in x_t), while low-t denoising is learned quickly. Measured on 20-minute
# single-thread runs of D (36 samples, true embeddings), this with lr 1e-3 against uniform t with lr 6e-4: colour
# 78 % against 69 %, shape equal (19 %).
GENERATIVE_T_POWER = 2.0


# From here up D sees shape decoys (diffusion_loss). At t = 700 D's x̂0 still takes the shape of x_t 18 times in 24,
# so from 600 up the shape of x_t is a hint D must not trust.
DECOY_T = 600
# Facing decoys (the same shape facing another way) start lower. Why: below 600 D took the facing of x_t and ignored
# the embedding's (x̂0 at t = 450 from x_t facing one way and the embedding of another: x_t's facing 22 times in 32,
# the embedding's 6), so in sampling the facing was settled by whatever blur the first steps left, and D drew the
# prompt's facing at chance (54 % from true image embeddings) although CLIP tells every facing apart.
FACING_DECOY_T = 300


def shape_decoy(scene, rng):
    """The scene drawn as something else at the same place and size, in the same colour on the same background:
    a fish or an arrow half of the time facing another way, otherwise another shape (and facing); never a held-out
    colour-shape pair. Why the facings: with shape decoys alone D drew 8 of 16 facings right from true embeddings
    (chance) although CLIP's image embedding tells every facing apart (72 of 72 zero-shot) and the prior's embedding
    has the prompt's facing 17 times in 18: D still read the facing off x_t, and the video's direction follows it."""
    if scene["shape"] in W.ORIENTED and rng.uniform() < 0.5:
        facings = [d for d in W.ORIENTED[scene["shape"]] if d != scene["direction"]]
        return dict(scene, direction=facings[rng.integers(len(facings))])
    others = [s for s in W.SHAPES if s != scene["shape"] and not W.is_held_out(scene["colour"], s)]
    shape = others[rng.integers(len(others))]
    facing = W.ORIENTED[shape][rng.integers(len(W.ORIENTED[shape]))] if shape in W.ORIENTED else None
    return dict(scene, shape=shape, direction=facing)


STILL_DECOY_T = 500
# every fish or arrow row of D^t at t ≥ STILL_DECOY_T takes a still decoy: in sampling x_t starts still at every
# such t, and a moving x_t there only teaches D^t to copy its motion (docs/models.md §4)
STILL_DECOY_SHARE = 1.0


def still_decoy(clip, scene):
    """A fish or arrow clip [3, F, H, W] frozen at its middle frame; other clips as they are."""
    if scene["direction"] is None:
        return clip
    mid = clip.shape[1] // 2
    return np.repeat(clip[:, mid:mid + 1], clip.shape[1], axis=1)


def sample_timesteps(n, gen, power=1.0):
    """t in 0..999 with density ∝ t^(power−1): power 1 is uniform, 2 puts 3/4 of the batch at t ≥ 500."""
    u = torch.rand(n, generator=gen)
    return (1000 * u ** (1.0 / power)).long().clamp(0, 999)


def diffusion_loss(model, x0, gen, offset=0.0, frame_correlation=0.0, t_power=1.0, decoy=None, decoy_from=None,
                   pixel_weight=None, temporal_weight=0.0, decoy_share=0.5, **kw):
    """ε-prediction loss for an x0-parameterised network: min(max(SNR_t, 1), γ)·|x̂0 − x0|² with γ = 5, i.e. the
    "truncated SNR" weighting of progressive distillation (Salimans & Ho, 2022) capped like Min-SNR-γ (Hang et al.,
    2023): without the floor of 1 the first sampling steps (t ≈ 960, SNR ≈ 0.003) get almost no gradient.

    offset: "offset noise" (a per-clip, per-channel constant added to ε with this std). Why: under the cosine
    schedule the mean of x_t still reveals the background colour at t = 960, so a model trained without it reads the
    background off x_t and ignores the image embedding; sampling starts from zero-mean noise and then always gives a
    gray background. With offset noise the mean of x_t is unreliable and the embedding has to carry the colour.

    frame_correlation: for clips [b, c, f, h, w], ε of every frame is √ρ·ε_shared + √(1−ρ)·ε_f (the "mixed" noise
    prior of PYoCo, Ge et al. 2023); the sampler must start from noise made the same way (manifest parameter
    frame_noise_correlation). Why: an image model turned video model sees frames whose noise is already
    correlated, so coherent frames need far fewer video steps to learn than from independent noise.

    t_power: timestep density ∝ t^(t_power−1) (sample_timesteps).

    decoy: images like x0 with another shape or facing (shape_decoy); rows with t ≥ decoy_from (a threshold per
    row: DECOY_T or FACING_DECOY_T) take, with probability `decoy_share`, their x_t from the decoy while the target
    stays x0.
    Why: in training the shape visible in x_t always agrees with the image embedding, so D learned to copy it from x_t; in sampling x_t at those t holds only the blurry blob
    of the steps before, and D copied the blob (squares and stars came out round). With decoys only the embedding is
    always right about the shape, so D has to draw it from the embedding where x_t barely shows it.

    pixel_weight: a per-pixel weight of the squared error, broadcast over channels (foreground_weight).

    temporal_weight: for clips, the part of the error that changes from frame to frame (the error minus its mean over
    the clip's frames) counts 1 + temporal_weight times. The squared error splits exactly into that part and the
    clip-constant part, so this only reweights. Why: a moving object changes a few percent of the pixels a few
    pixels a frame; under the plain loss drawing it still costs little, and D^t learned to copy the motion visible in
    x_t instead of drawing the motion its embedding and fps imply, so sampled clips stood still."""
    t = sample_timesteps(x0.shape[0], gen, t_power)
    eps = torch.randn(x0.shape, generator=gen)
    if frame_correlation and x0.ndim == 5:
        eps = mixed_frame_noise(eps, torch.randn(x0.shape[:2] + (1,) + x0.shape[3:], generator=gen),
                                frame_correlation)
    if offset:
        eps = eps + offset * torch.randn(x0.shape[:2] + (1,) * (x0.ndim - 2), generator=gen)
    dev = next(model.parameters()).device
    x0, t, eps = x0.to(dev), t.to(dev), eps.to(dev)
    kw = {k: v.to(dev) if torch.is_tensor(v) else v for k, v in kw.items()}
    a = AC.to(dev)[t].view(-1, *([1] * (x0.ndim - 1)))
    source = x0
    if decoy is not None:
        use = (t >= decoy_from.to(dev)) & (torch.rand(x0.shape[0], generator=gen) < decoy_share).to(dev)
        source = torch.where(use.view(-1, *([1] * (x0.ndim - 1))), decoy.to(dev), x0)
    x_t = a.sqrt() * source + (1 - a).sqrt() * eps
    snr = a / (1 - a)
    w = torch.clamp(snr, min=1.0, max=GAMMA)
    if pixel_weight is not None:
        w = w * pixel_weight.to(dev)
    if getattr(model, "x0_param", False):
        err = model(x_t, t, return_x0=True, **kw) - x0
        loss = (w * err ** 2).mean()
        if temporal_weight and x0.ndim == 5:
            loss = loss + temporal_weight * (w * (err - err.mean(2, keepdim=True)) ** 2).mean()
        return loss
    pred = model(x_t, t, **kw)
    return ((w / snr) * (pred - eps) ** 2).mean()


OFFSET_NOISE = 0.2

# D weighs the squared error of object pixels (the object or its decoy) this much more than background pixels.
# Why: the object covers about 7 % of a 64-px image and its facing a few pixels of tail or arrow head, so under a
# uniform loss D's error is mostly background, which it draws well from the first steps on.
FOREGROUND_WEIGHT = 4.0


def foreground_weight(imgs, decoys, scenes, weight=FOREGROUND_WEIGHT):
    """[n, 1, h, w] pixel weights 1 + weight·(pixel differs from the scene's background in the image or its decoy),
    scaled to mean 1 per image so the loss keeps its scale."""
    bg = torch.from_numpy(np.stack([W.unit_rgb(W.BACKGROUNDS[s["background"]]) for s in scenes])).float()
    differs = lambda x: (x - bg[:, :, None, None]).abs().amax(1, keepdim=True) > 0.1
    w = 1 + weight * (differs(imgs) | differs(decoys)).float()
    return w / w.mean((2, 3), keepdim=True)


def noisy(x0, gen):
    """(x_t, t, eps) with t uniform in 0..999 under the cosine schedule."""
    t = torch.randint(0, 1000, (x0.shape[0],), generator=gen).to(x0.device)
    eps = torch.randn(x0.shape, generator=gen).to(x0.device)
    a = AC.to(x0.device)[t].view(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * eps, t, eps


# ---- data -----------------------------------------------------------------------------------------------------

def image_batch(world, start, n, size=64):
    imgs, caps, scenes = [], [], []
    for i in range(start, start + n):
        img, cap, sc = world.image_pair(i, size)
        imgs.append(img)
        caps.append(cap)
        scenes.append(sc)
    return torch.from_numpy(np.stack(imgs)), caps, scenes


def fps_for(progress, rng):
    """Training fps: early mostly high fps (little motion), later mostly low fps (much motion)."""
    lo, hi = W.FPS_RANGE
    u = rng.uniform() ** (3.0 * (1 - progress) + 0.5)
    return float(round(hi - (hi - lo) * u))


# ---- data workers ---------------------------------------------------------------------------------------------

_WORKER_STAGE = None  # the stage whose data(step, progress) the forked workers call


def _worker_init():
    torch.set_num_threads(1)


def _worker_data(step, progress):
    return _WORKER_STAGE.data(step, progress)


class Prefetcher:
    """Renders the batches of the next steps in worker processes while the model trains on the current one.

    Why: the world is drawn with numpy on one CPU core (~0.5 ms per 64-px image, 16 frames per clip), fast enough
    for a CPU that trains at 70 images/s but the bound of a GPU that trains at thousands. Batches depend only on
    (stage, step), so a batch is the same with any number of workers, or none. Workers are forked before any model
    moves to the GPU and only run numpy."""

    def __init__(self, stage, workers, depth=None):
        import concurrent.futures
        import multiprocessing
        global _WORKER_STAGE
        _WORKER_STAGE = stage
        self.pool = concurrent.futures.ProcessPoolExecutor(workers, multiprocessing.get_context("fork"),
                                                           initializer=_worker_init)
        self.depth = depth or 2 * workers
        self.queue = {}
        self.pool.submit(int).result()  # with fork every worker starts at the first task: start them now

    def get(self, step, progress):
        for s in range(step, step + self.depth):
            if s not in self.queue:
                self.queue[s] = self.pool.submit(_worker_data, s, progress)
        return self.queue.pop(step).result()

    def close(self):
        self.pool.shutdown(cancel_futures=True)


# ---- stages ---------------------------------------------------------------------------------------------------

class Stage:
    """A resumable training loop: build(), data(step) → batch on the CPU, loss(batch) → loss, save/load, export.

    data(step, progress) depends only on the stage, the step and the fraction of the run spent, never on state
    carried from step to step, so workers can render batches ahead (Prefetcher); the noise, timesteps and condition
    dropout come from the stage's generator in loss()."""
    name = None
    frame_correlation = 0.0  # ρ of the clips' noise (mixed_frame_noise); recorded so samplers of the weights match

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

    def params(self):
        return self.model.parameters()

    def rng(self, step):
        """numpy random numbers of one step's batch (crops, fps, frame skips)."""
        return np.random.default_rng([SEED, STAGES.index(self.name), step])

    def keep(self, n, p_drop):
        """Condition-dropout mask, 1 for the rows that keep their condition, drawn on the CPU generator."""
        return (torch.rand(n, generator=self.gen) >= p_drop).float().to(self.device)

    def save(self):
        state = {"model": self.model.state_dict(), "ema": self.ema.model.state_dict(), "ema_n": self.ema.n,
                 "opt": self.opt.state_dict(), "step": self.step_n, "elapsed": self.elapsed, "losses": self.losses,
                 "gen": self.gen.get_state(), "batch": self.batch, "lr": LR[self.name],
                 "devices": sorted(self.devices | {self.device.type}), "frame_noise_correlation": self.frame_correlation}
        tmp = ckpt_path(self.root, self.name) + ".tmp"
        torch.save(to_cpu(state), tmp)
        os.replace(tmp, ckpt_path(self.root, self.name))

    def load_exported(self):
        """Resume from the EMA weights in the model repository: a fresh checkout has no checkpoints/, but its
        models/ hold what the last run exported. The optimiser starts afresh; step and time continue. Returns the
        stage's record in the manifest."""
        load_ema(self.root, self.name, self.model).train()
        self.ema.model.load_state_dict(self.model.state_dict())
        self.ema.n = 10_000  # past the warm-up: the EMA of a resumed model must not jump to the raw weights
        info = exported_info(MODELS_DIR, EXPORTS[self.name][0]).get(self.name) or {}
        self.step_n, self.elapsed = info.get("steps", 0), info.get("minutes", 0.0) * 60
        self.devices = set(info.get("devices", []))
        return info

    def load(self):
        s = read_ckpt(self.root, self.name)
        ema = ema_weights(self.root, self.name, s)
        grown = load_grown(self.model, s.get("model", ema), self.name)  # a packed checkpoint holds EMA only
        load_grown(self.ema.model, ema, self.name)
        self.ema.n = s["ema_n"]
        if "opt" in s and not grown:  # new parameters: the optimiser's state no longer lines up, it starts afresh
            self.opt.load_state_dict(s["opt"])
        self.step_n, self.elapsed, self.losses = s["step"], s["elapsed"], s["losses"]
        self.devices = set(s.get("devices", ["cpu"]))
        self.gen.set_state(s["gen"])

    def run(self):
        os.makedirs(self.root, exist_ok=True)
        self.build()
        # workers fork now, before any model moves to the GPU
        prefetch = Prefetcher(self, self.args.workers) if getattr(self.args, "workers", 0) else None
        for m in vars(self).values():  # the trained model and the frozen ones it learns from (CLIP)
            if isinstance(m, torch.nn.Module):
                m.to(self.device)
        self.ema = EMA(self.model)
        self.opt = torch.optim.AdamW(self.params(), lr=LR[self.name], weight_decay=0.0)
        if self.args.resume and os.path.exists(ckpt_path(self.root, self.name)):
            self.load()
            print(f"[{self.name}] resumed at step {self.step_n} ({self.elapsed / 60:.1f} min)", flush=True)
        elif self.args.resume:
            self.load_exported()
            print(f"[{self.name}] no checkpoint: resumed from the exported {', '.join(EXPORTS[self.name])} in "
                  f"{MODELS_DIR} at step {self.step_n} ({self.elapsed / 60:.1f} min)", flush=True)
        budget = self.args.minutes * 60 if self.args.minutes is not None else None
        t_start, last_save, window = time.time(), time.time(), []
        base, first_step = self.elapsed, self.step_n
        while True:
            run_time = time.time() - t_start
            if budget is not None and run_time >= budget:
                break
            if self.args.steps is not None and self.step_n >= self.args.steps:
                break
            progress = min(1.0, run_time / budget) if budget else 0.5
            if getattr(self.args, "lr_decay", 0.0):
                done = progress if budget else (self.step_n - first_step) / max(1, self.args.steps - first_step)
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
        self.save()
        print(f"[{self.name}] done: {self.step_n} steps, {self.elapsed / 60:.1f} min", flush=True)


MODELS_DIR = "../models"  # the model repository a stage falls back to when checkpoints/ lacks it (--out)


def exported_dir(models_dir, name):
    return os.path.join(models_dir, name, "1")


def exported_info(models_dir, name):
    with open(os.path.join(exported_dir(models_dir, name), "manifest.json")) as f:
        return json.load(f)["training"].get("stages", {})


def restore_exported(models_dir, name, model):
    from .export import restore_from_onnx
    part = {"text_encoder": "text", "image_encoder": "image"}.get(name)
    restore_from_onnx(getattr(model, part) if part else model, name,
                      os.path.join(exported_dir(models_dir, name), "model.onnx"))
    return model


def load_ema(root, stage, model):
    """EMA weights of a trained stage: its checkpoint, else (fresh checkout) the model it exported."""
    if os.path.exists(ckpt_path(root, stage)):
        load_grown(model, ema_weights(root, stage, read_ckpt(root, stage)), stage)
    else:
        for name in EXPORTS[stage]:
            restore_exported(MODELS_DIR, name, model)
    return model.eval()


def tokenizer_path(root):
    path = os.path.join(root, "tokenizer", "tokenizer.json")
    return path if os.path.exists(path) else os.path.join(exported_dir(MODELS_DIR, "text_encoder"), "tokenizer.json")


def load_tokenizer(root):
    return tk.Tokenizer.load(tokenizer_path(root))


def load_clip(root):
    tok = load_tokenizer(root)
    return load_ema(root, "clip", CLIP(len(tok), E)), tok


class ClipStage(Stage):
    name = "clip"

    def build(self):
        self.tok = load_tokenizer(self.root)
        self.model = CLIP(len(self.tok), E)

    def data(self, step, progress):
        n = self.batch
        imgs, caps, scenes = image_batch(self.world, step * n, n)
        attrs = [W.caption_attributes(c) for c in caps]
        # same[i, j]: caption j is true of image i (many captions fit many images in this world)
        same = torch.tensor([[W.consistent(attrs[j], scenes[i]) for j in range(n)] for i in range(n)])
        return imgs, torch.tensor([self.tok.encode(c) for c in caps]), same

    def loss(self, batch):
        imgs, ids, same = batch
        return self.model.loss(imgs.to(self.device), ids.to(self.device), same.to(self.device))


class PriorStage(Stage):
    name = "prior"

    def build(self):
        self.clip, self.tok = load_clip(self.root)
        self.model = DiffusionPrior(E)

    def data(self, step, progress):
        n = self.batch
        imgs, caps, _ = image_batch(self.world, 10_000_000 + step * n, n)
        return imgs, torch.tensor([self.tok.encode(c) for c in caps])

    def loss(self, batch):
        imgs, ids = batch
        n = imgs.shape[0]
        with torch.no_grad():
            target = self.clip.image(imgs.to(self.device)) * image_embed_scale(E)
            te, tt = self.clip.text(ids.to(self.device))
        keep = self.keep(n, 0.1)
        te = te * keep[:, None]
        tt = tt * keep[:, None, None]
        x_t, t, _ = noisy(target, self.gen)
        pred = self.model(x_t, t, te, tt)
        return F.mse_loss(pred, target)


def make_decoder():
    return SpaceTimeUNet(**decoder_config(E))


class DecoderStage(Stage):
    """D: text-free image decoder from the CLIP image embedding (temporal layers exist but are skipped)."""
    name = "decoder"

    def build(self):
        self.clip, _ = load_clip(self.root)
        self.model = make_decoder()

    def data(self, step, progress):
        imgs, _, scenes = image_batch(self.world, 20_000_000 + step * self.batch, self.batch)
        rng = self.rng(step)
        decoy_scenes = [shape_decoy(sc, rng) for sc in scenes]
        start = torch.tensor([FACING_DECOY_T if d["shape"] == sc["shape"] else DECOY_T
                              for d, sc in zip(decoy_scenes, scenes)])
        decoys = torch.from_numpy(np.stack([W.render(d, 64) for d in decoy_scenes]))
        return imgs, decoys, start, foreground_weight(imgs, decoys, scenes)

    def loss(self, batch):
        imgs, decoys, start, pixel_weight = batch
        n = imgs.shape[0]
        imgs = imgs.to(self.device)
        with torch.no_grad():
            emb = self.clip.image(imgs) * self.keep(n, 0.1)[:, None]
        fps = torch.full((n,), 8.0)
        return diffusion_loss(self.model, imgs, self.gen, OFFSET_NOISE, t_power=GENERATIVE_T_POWER, decoy=decoys,
                              decoy_from=start, pixel_weight=pixel_weight, image_embed=emb, fps=fps)


# D^t as exported and sampled has its temporal convolutions moved halfway back to the identity
# (blend_temporal_convs). Why: trained 5,709 steps on CPU, the non-residual temporal convolutions hold the frames
# together but also redraw the shapes D's spatial layers draw; at the identity the shapes come back but objects
# jump between keyframes. Chosen on seeds the report does not use (docs/models.md §9). The checkpoint keeps the
# trained kernels; export and the reference sampler blend them, and the manifest records α.
TEMPORAL_CONV_BLEND = 0.5
# D^t weighs the frame-to-frame part of its error 1 + this much (diffusion_loss, temporal_weight).
TEMPORAL_ERROR_WEIGHT = 4.0


def fresh_temporal_layers(model):
    """Put the temporal layers of `model` back to how they start (dirac convs, zero output projections), keeping
    every other weight. Why: a fresh checkout's D is the exported decoder, which is D^t, so a D^t started from it
    would otherwise start from the last run's temporal layers instead of from D."""
    fresh = dict(make_decoder().named_parameters())
    temporal = {id(p) for p in model.temporal_parameters()}
    with torch.no_grad():
        for n, p in model.named_parameters():
            if id(p) in temporal:
                p.copy_(fresh[n])
    return model


class DecoderVideoStage(DecoderStage):
    """D^t: the image decoder with its temporal layers switched on, trained on unlabelled clips conditioned on the
    first frame's CLIP embedding and on fps. Only the new temporal layers and the fps embedding train; every spatial
    weight stays D's. Why: with 3-4 clips a step (3-4 objects) the spatial layers, when they train too, forget the
    shapes and colours D learned from thousands of images (measured: a retrained chain whose D^t trained every
    weight drew the right colour 67 % of the time, its D alone 97 %). Frozen, they keep D's image quality exactly,
    and the temporal layers, which start as the identity, only have to learn how frames relate."""
    name = "decoder_video"
    frame_correlation = FRAME_NOISE_CORRELATION
    frames = 16

    def build(self):
        self.clip, _ = load_clip(self.root)
        self.model = make_decoder()
        if not self.args.resume:  # a resumed D^t loads every weight from its checkpoint or its exported file
            load_ema(self.root, "decoder", self.model).train()
            fresh_temporal_layers(self.model)

    def load_exported(self):
        """The exported D^t holds its temporal convolutions blended (TEMPORAL_CONV_BLEND): training resumes from the
        trained kernels, so the blend its manifest records is undone (1/α)."""
        info = super().load_exported()
        alpha = info.get("temporal_conv_blend", 1.0)
        for m in (self.model, self.ema.model):
            blend_temporal_convs(m, 1 / alpha)
        self.take_spatial_weights()
        return info

    def params(self):
        trainable = self._trainable()
        for p in self.model.parameters():
            p.requires_grad_(id(p) in trainable)
        return [p for p in self.model.parameters() if p.requires_grad]

    def _trainable(self):
        return {id(p) for p in self.model.temporal_parameters()} | {id(p) for p in self.model.fps_mlp.parameters()}

    def load(self):
        super().load()
        self.take_spatial_weights()

    def take_spatial_weights(self):
        """After a resume (from the checkpoint or the exported file), every frozen (spatial) weight comes from D's
        current EMA: D^t's spatial layers are D's by definition, so a D trained further since D^t last ran (or
        grown, as by image tokens) carries over, and only the temporal layers keep what D^t learned."""
        dec = load_ema(self.root, "decoder", make_decoder()).state_dict()
        trainable = self._trainable()
        frozen = [n for n, p in self.model.named_parameters() if id(p) not in trainable]
        changed = sum(not torch.equal(self.ema.model.state_dict()[n].cpu(), dec[n]) for n in frozen)
        for model in (self.model, self.ema.model):
            state = model.state_dict()
            state.update({n: dec[n] for n in frozen})
            model.load_state_dict(state)
        print(f"[{self.name}] spatial weights from D's EMA ({changed} of {len(frozen)} differed)", flush=True)

    def videos(self, step, frames, fps_list, offset):
        """The world's unlabelled clips of this step: (clip [3, F, 64, 64], fps, scene, motion) per fps."""
        n = len(fps_list)
        return [self.world.video(offset + step * n + k, frames, fps_list[k], 64) for k in range(n)]

    def clips(self, step, frames, fps_list, offset):
        return torch.from_numpy(np.stack([v[0] for v in self.videos(step, frames, fps_list, offset)]))

    def data(self, step, progress):
        rng = self.rng(step)
        fps = [fps_for(progress, rng) for _ in range(self.batch)]
        videos = self.videos(step, self.frames, fps, 30_000_000)
        v = np.stack([clip for clip, _, _, _ in videos])
        still = np.stack([still_decoy(clip, scene) for clip, _, scene, _ in videos])
        return torch.from_numpy(v), torch.tensor(fps), torch.from_numpy(still)

    def loss(self, batch):
        v, fps, still = batch
        n = v.shape[0]
        v = v.to(self.device)
        with torch.no_grad():
            emb = self.clip.image(v[:, :, 0]) * self.keep(n, 0.1)[:, None]
        return diffusion_loss(self.model, v, self.gen, OFFSET_NOISE, self.frame_correlation, GENERATIVE_T_POWER,
                              decoy=still, decoy_from=torch.full((n,), STILL_DECOY_T), decoy_share=STILL_DECOY_SHARE,
                              temporal_weight=TEMPORAL_ERROR_WEIGHT, image_embed=emb, fps=fps)


def make_interpolator():
    return SpaceTimeUNet(**interpolator_config(E))


def interpolator_from_decoder(dec):
    """↑F starts as D^t: every weight copied; the conv_in weights of the new masked-frame and mask channels start at
    zero so the fine-tuning starts from the decoder's behaviour."""
    m = make_interpolator()
    sd = dec.state_dict()
    own = m.state_dict()
    for k, v in sd.items():
        if k == "conv_in.weight":
            w = torch.zeros_like(own[k])
            w[:, : v.shape[1]] = v  # space_to_depth keeps channel-major order: sample channels come first
            own[k] = w
        elif k in own and own[k].shape == v.shape:
            own[k] = v
    m.load_state_dict(own)
    return m


class InterpolatorStage(DecoderVideoStage):
    name = "interpolator"
    frame_correlation = 0.0
    keyframes = 4

    def params(self):
        return self.model.parameters()  # ↑F fine-tunes every weight: its new input channels change the spatial task

    def load(self):
        Stage.load(self)  # every weight is ↑F's own: nothing to take from D

    def load_exported(self):
        return Stage.load_exported(self)  # ↑F is exported unblended, and none of its weights come from D

    def build(self):
        self.clip, _ = load_clip(self.root)
        if self.args.resume and os.path.exists(ckpt_path(self.root, self.name)):
            self.model = make_interpolator()
        else:
            self.model = interpolator_from_decoder(load_ema(self.root, "decoder_video", make_decoder())).train()

    def data(self, step, progress):
        rng = self.rng(step)
        skip = int(rng.integers(2, 6))
        frames = (self.keyframes - 1) * skip + 1
        fps = [float(rng.integers(2, 9)) * skip for _ in range(self.batch)]  # as the Java stage: keyframe fps × skip
        return self.clips(step, frames, fps, 40_000_000), torch.tensor(fps), skip

    def loss(self, batch):
        v, fps, skip = batch
        n, frames = v.shape[0], v.shape[2]
        v = v.to(self.device)
        mask = torch.zeros(n, 1, frames, 64, 64, device=self.device)
        mask[:, :, ::skip] = 1
        with torch.no_grad():
            emb = self.clip.image(v[:, :, 0])
        return diffusion_loss(self.model, v, self.gen, OFFSET_NOISE, image_embed=emb, fps=fps,
                              frame_skip=torch.full((n,), float(skip)), cond=torch.cat([v * mask, mask], dim=1))


def augmented(low_res, gen):
    """Conditioning augmentation of the SR models: Gaussian noise of std 0.05·U(0, 1), one level per sample."""
    noise = torch.randn(low_res.shape, generator=gen)  # drawn before the levels, as the stages always have
    return low_res + noise * 0.05 * torch.rand((low_res.shape[0],) + (1,) * (low_res.ndim - 1), generator=gen)


class SrLowStage(Stage):
    """SR^t_l: 256-px clips from 64-px clips of the same scene (both rendered), on 64×64 crops of the 256 frames."""
    name = "sr_low"
    frames = 6
    crop = 64

    def build(self):
        self.model = SpaceTimeUNet(**sr_low_config())

    def data(self, step, progress):
        n, f, c = self.batch, self.frames, self.crop
        hi, lo = [], []
        crop_rng = self.rng(step)
        for k in range(n):
            rng = self.world.rng(50_000_000 + step * n + k, 2)
            scene = W.sample_scene(rng)
            fps = fps_for(crop_rng.uniform(), crop_rng)
            motion = W.sample_motion(scene, rng, f, fps)
            # a crop that usually contains part of the object
            cx, cy = W.centre_at(motion, 0.0)
            x0 = int(np.clip(cx * 256 - c / 2 + crop_rng.integers(-24, 25), 0, 256 - c)) // 4 * 4
            y0 = int(np.clip(cy * 256 - c / 2 + crop_rng.integers(-24, 25), 0, 256 - c)) // 4 * 4
            hi.append(W.render_video(scene, motion, f, fps, 256, (x0, y0, c, c)))
            lo.append(W.render_video(scene, motion, f, fps, 64, (x0 // 4, y0 // 4, c // 4, c // 4)))
        return torch.from_numpy(np.stack(hi)), torch.from_numpy(np.stack(lo))

    def loss(self, batch):
        hi, lo = batch
        return diffusion_loss(self.model, hi, self.gen, cond=augmented(lo, self.gen))


class SrHighStage(Stage):
    """SR_h: per frame 256 → 768, on 96×96 crops of 768-px renders (low_res crops 32×32 of 256-px renders)."""
    name = "sr_high"
    crop = 96

    def build(self):
        self.model = SpaceTimeUNet(**sr_high_config())

    def data(self, step, progress):
        n, c = self.batch, self.crop
        hi, lo = [], []
        crop_rng = self.rng(step)
        for k in range(n):
            rng = self.world.rng(60_000_000 + step * n + k, 1)
            scene = W.sample_scene(rng)
            cx, cy = scene["center"]
            x0 = int(np.clip(cx * 768 - c / 2 + crop_rng.integers(-80, 81), 0, 768 - c)) // 3 * 3
            y0 = int(np.clip(cy * 768 - c / 2 + crop_rng.integers(-80, 81), 0, 768 - c)) // 3 * 3
            hi.append(W.render(scene, 768, window=(x0, y0, c, c)))
            lo.append(W.render(scene, 256, window=(x0 // 3, y0 // 3, c // 3, c // 3)))
        return torch.from_numpy(np.stack(hi)), torch.from_numpy(np.stack(lo))

    def loss(self, batch):
        hi, lo = batch
        return diffusion_loss(self.model, hi, self.gen, cond=augmented(lo, self.gen))


STAGE_CLASSES = {c.name: c for c in (ClipStage, PriorStage, DecoderStage, DecoderVideoStage, InterpolatorStage,
                                     SrLowStage, SrHighStage)}
EXPORTS = {"clip": ["text_encoder", "image_encoder"], "prior": ["prior"], "decoder": ["decoder"], "decoder_video": ["decoder"],
           "interpolator": ["interpolator"], "sr_low": ["sr_low"], "sr_high": ["sr_high"]}


# ---- export glue ----------------------------------------------------------------------------------------------

def _info(root, stage):
    p = ckpt_path(root, stage)
    if not os.path.exists(p):  # trained in an earlier checkout: its record is in the exported manifest
        try:
            return exported_info(MODELS_DIR, EXPORTS[stage][0]).get(stage)
        except (OSError, KeyError, ValueError):
            return None
    s = torch.load(p, map_location="cpu")
    info = {"steps": s["step"], "minutes": round(s["elapsed"] / 60, 1), "batch": s.get("batch"), "lr": s.get("lr"),
            "final_loss": s["losses"][-1][1] if s["losses"] else None, "devices": s.get("devices", ["cpu"]),
            "frame_noise_correlation": s.get("frame_noise_correlation", 0.0)}
    if stage == "decoder_video":
        info["temporal_conv_blend"] = TEMPORAL_CONV_BLEND
    return info


DATA = {
    "text_encoder": "synthetic image-caption pairs (64 px), contrastive; held-out pairs excluded",
    "image_encoder": "synthetic image-caption pairs (64 px), contrastive; the image tower of text_encoder's CLIP",
    "prior": "synthetic image-caption pairs → CLIP image embeddings of the frozen image encoder",
    "decoder": "stage D: 64-px images conditioned on CLIP image embeddings; stage D^t: unlabelled 16-frame clips, "
               "first-frame embedding, fps 4-30 moving from high to low; still decoys (every fish or arrow clip at "
               "t >= 500 noised from its middle frame held still), the frame-to-frame part of the error weighted 5x; "
               "only the temporal layers and the fps embedding train, the spatial layers stay D's",
    "interpolator": "unlabelled clips, 4 keyframes, frame skip 2-5, fps = keyframe fps × skip; init from D^t",
    "sr_low": "6-frame clips rendered at 64 and 256 px, random 64×64 crops of the 256 frames, low_res noise aug",
    "sr_high": "single frames rendered at 256 and 768 px, random 96×96 crops, low_res noise aug",
}
STAGES_OF = {"text_encoder": ["clip"], "image_encoder": ["clip"], "prior": ["prior"], "decoder": ["decoder", "decoder_video"],
             "interpolator": ["interpolator"], "sr_low": ["sr_low"], "sr_high": ["sr_high"]}


def load_for_export(root, decoder_stage=None):
    """Models (EMA weights) for export: from checkpoints/, else from the model repository (a stage trained in an
    earlier checkout); a stage trained in neither keeps its initial weights (marked by 0 steps in the manifest).
    `decoder_stage` picks D or D^t for the decoder; by default D^t when it exists."""
    tok = load_tokenizer(root)

    def trained(stage, model):
        if os.path.exists(ckpt_path(root, stage)) or _info(root, stage):
            return load_ema(root, stage, model)
        return model

    clip = trained("clip", CLIP(len(tok), E))
    prior = trained("prior", DiffusionPrior(E))
    # a checkpoint of this checkout wins over the record of an earlier one (a fresh D before its D^t exists)
    dec_stage = decoder_stage or next(
        (st for st in ("decoder_video", "decoder") if os.path.exists(ckpt_path(root, st))),
        "decoder_video" if _info(root, "decoder_video") else "decoder")
    dec = trained(dec_stage, make_decoder())
    if dec_stage == "decoder_video" and os.path.exists(ckpt_path(root, dec_stage)):
        blend_temporal_convs(dec, TEMPORAL_CONV_BLEND)  # an exported D^t (no checkpoint) is blended already
    interp = trained("interpolator", make_interpolator())
    srl = trained("sr_low", SpaceTimeUNet(**sr_low_config()))
    srh = trained("sr_high", SpaceTimeUNet(**sr_high_config()))
    models = {"clip": clip, "prior": prior, "decoder": dec, "interpolator": interp, "sr_low": srl, "sr_high": srh}
    training, metrics = {}, {}
    for name, stages in STAGES_OF.items():
        infos = {st: _info(root, st) for st in stages}
        done = [i for i in infos.values() if i]
        training[name] = {"data": DATA[name], "seed": SEED, "ema_decay": 0.999,
                          "command": "cd training && python3 -m mav_training.train --stage all",
                          "stages": infos, "steps": sum(i["steps"] for i in done),
                          "hardware": ", ".join(sorted({d for i in done for d in i["devices"]}))}
    mfile = os.path.join(root, "metrics.json")
    if os.path.exists(mfile):
        with open(mfile) as f:
            metrics = json.load(f)
    from .export import DEFAULT_SCHED
    # a decoder trained on correlated frame noise (D^t) is sampled from it at SAMPLING_FRAME_NOISE_CORRELATION;
    # one trained without it (D, records older than ρ) from independent frames
    trained_rho = (training["decoder"]["stages"][dec_stage] or {}).get("frame_noise_correlation", 0.0)
    rho = SAMPLING_FRAME_NOISE_CORRELATION if trained_rho else 0.0
    return models, E, tokenizer_path(root), training, metrics, DEFAULT_SCHED, {"decoder": {"frame_noise_correlation": rho}}


PACKED_KEYS = ("ema", "ema_n", "step", "elapsed", "losses", "gen", "batch", "lr", "devices", "frame_noise_correlation")


def pack(root, dest):
    """Copy checkpoints/ to dest with only what export and resume need (EMA weights and the training record, no raw
    weights or optimiser state: a quarter of the size). Why: files come back from a rented GPU machine in pieces of
    at most 16 MB, and a full decoder checkpoint is 76 MB. `--resume` from a packed checkpoint starts the optimiser
    afresh from the EMA weights. Once D^t exists, D keeps only its record: the export takes the decoder from D^t."""
    import shutil
    os.makedirs(dest, exist_ok=True)
    for stage in STAGES:
        if os.path.exists(ckpt_path(root, stage)):
            s = read_ckpt(root, stage)
            keys = PACKED_KEYS
            if stage == "decoder" and os.path.exists(ckpt_path(root, "decoder_video")):
                keys = [k for k in keys if k != "ema"]
            torch.save({k: s[k] for k in keys if k in s}, ckpt_path(dest, stage))
    if os.path.isdir(os.path.join(root, "tokenizer")):
        shutil.copytree(os.path.join(root, "tokenizer"), os.path.join(dest, "tokenizer"), dirs_exist_ok=True)


def export(args, names):
    from .export import export_all
    models, e, tok_path, training, metrics, sched, extra = load_for_export(args.checkpoints)
    export_all(models, args.out, tok_path, e, "1", training, metrics, sched, extra, only=names,
               fixtures_root=args.checkpoints)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", required=True, choices=STAGES + ["all", "export", "pack"])
    p.add_argument("--minutes", type=float, default=None, help="time budget per stage (default per stage)")
    p.add_argument("--steps", type=int, default=None,
                   help="stop when the stage's step count (resumed steps included) reaches this; with --resume and "
                        "the current count it only re-syncs and saves (D^t takes D's spatial weights)")
    p.add_argument("--resume", action="store_true")
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
    global MODELS_DIR
    MODELS_DIR = a.out
    torch.set_num_threads(a.threads)
    if a.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(SEED)
    stages = STAGES if a.stage == "all" else [a.stage]
    if a.stage == "export":
        export(a, None)
        return
    if a.stage == "pack":
        pack(a.checkpoints, a.pack_dir or os.path.join(a.checkpoints, "packed"))
        return
    for st in stages:
        if st == "tokenizer":
            tk.build(os.path.join(a.checkpoints, "tokenizer"), SEED)
            continue
        args = copy.copy(a)
        if args.minutes is None and args.steps is None:
            args.minutes = DEFAULT_MINUTES[st]
        STAGE_CLASSES[st](args).run()
        if not a.no_export:
            export(a, EXPORTS[st])


if __name__ == "__main__":
    sys.exit(main())
