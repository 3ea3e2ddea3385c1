"""Reference samplers (DDIM, DDPM) and the noise schedules; the Java services implement the same math and are
tested against the fixtures `write_fixtures` produces.

Notation: a_t = ᾱ_t (alphas_cumprod), x_t the noisy sample, x0 the predicted clean sample, eps the noise.
"""
import json
import math
import os

import numpy as np
import torch


def betas_for(schedule, T=1000):
    """float64 betas for `squaredcos_cap_v2` (cosine, Nichol & Dhariwal) or `linear` (1e-4..0.02)."""
    if schedule == "squaredcos_cap_v2":
        def abar(s):
            return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2
        return np.array([min(1 - abar((i + 1) / T) / abar(i / T), 0.999) for i in range(T)], dtype=np.float64)
    if schedule == "linear":
        return np.linspace(1e-4, 0.02, T, dtype=np.float64)
    raise ValueError(f"unknown beta_schedule '{schedule}'")


def alphas_cumprod(schedule, T=1000):
    return np.cumprod(1.0 - betas_for(schedule, T))


class _Scheduler:
    def __init__(self, num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="epsilon",
                 clip_sample=True, clip_sample_range=1.0):
        if prediction_type not in ("epsilon", "sample"):
            raise ValueError(f"unknown prediction_type '{prediction_type}'")
        self.T = num_train_timesteps
        self.ac = alphas_cumprod(beta_schedule, num_train_timesteps)
        self.prediction_type = prediction_type
        self.clip_sample = clip_sample
        self.clip_range = clip_sample_range
        self.timesteps = None
        self.step_ratio = None

    def set_timesteps(self, n):
        if not 1 <= n <= self.T:
            raise ValueError(f"num_inference_steps must be in 1..{self.T}, got {n}")
        self.step_ratio = self.T // n
        self.timesteps = [(n - 1 - i) * self.step_ratio for i in range(n)]
        return self.timesteps

    def _alphas(self, t):
        if self.timesteps is None:
            raise RuntimeError("call set_timesteps(n) before step()")
        prev_t = t - self.step_ratio
        a_t = float(self.ac[t])
        a_prev = float(self.ac[prev_t]) if prev_t >= 0 else 1.0
        return a_t, a_prev

    def predict(self, output, t, x_t):
        """(x0, eps) from the model output; with clip_sample x0 is clamped and eps recomputed from it."""
        a_t = float(self.ac[t])
        if self.prediction_type == "epsilon":
            eps = output
            x0 = (x_t - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
        else:
            x0 = output
            eps = (x_t - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
        if self.clip_sample:
            x0 = x0.clamp(-self.clip_range, self.clip_range)
            eps = (x_t - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
        return x0, eps

    def add_noise(self, x0, noise, t):
        """Forward process q(x_t | x0) for a batch of integer timesteps t [B]."""
        a = torch.as_tensor(self.ac, dtype=torch.float32)[t].view(-1, *([1] * (x0.ndim - 1)))
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def noised(self, x0, noise, t):
        """q(x_t | x0) at one integer timestep, in the sample's dtype with float64 coefficients (as Java)."""
        a = float(self.ac[t])
        return math.sqrt(a) * x0 + math.sqrt(1 - a) * noise

    def timesteps_from(self, strength):
        """The tail of the set timesteps that a sample noised to `strength` runs (diffusers' img2img / SDEdit):
        the last ⌊n·strength⌋ of the n timesteps; strength 1 is all of them, from a sample noised to the noisiest."""
        if self.timesteps is None:
            raise RuntimeError("call set_timesteps(n) before timesteps_from()")
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        n = len(self.timesteps)
        return self.timesteps[n - min(int(n * strength), n):]


class DDIMScheduler(_Scheduler):
    def step(self, output, t, x_t, eta=0.0, noise=None):
        """(x_prev, x0) for one DDIM step from timestep t."""
        a_t, a_prev = self._alphas(t)
        x0, eps = self.predict(output, t, x_t)
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t)) * math.sqrt(1 - a_t / a_prev)
        x_prev = math.sqrt(a_prev) * x0 + math.sqrt(max(0.0, 1 - a_prev - sigma ** 2)) * eps
        if sigma > 0:
            x_prev = x_prev + sigma * noise
        return x_prev, x0


class DDPMScheduler(_Scheduler):
    def step(self, output, t, x_t, noise=None):
        """(x_prev, x0) for one ancestral DDPM step (posterior mean plus √variance·noise, none at t = 0)."""
        a_t, a_prev = self._alphas(t)
        x0, _ = self.predict(output, t, x_t)
        alpha_t = a_t / a_prev
        beta_t = 1 - alpha_t
        mean = (math.sqrt(a_prev) * beta_t / (1 - a_t)) * x0 + (math.sqrt(alpha_t) * (1 - a_prev) / (1 - a_t)) * x_t
        var = max((1 - a_prev) / (1 - a_t) * beta_t, 1e-20)
        x_prev = mean + math.sqrt(var) * noise if t > 0 else mean
        return x_prev, x0


def guided(model_fn, x, t, cond, uncond, scale):
    """Classifier-free guidance in one batched call: row 0 conditional, row 1 unconditional."""
    out = model_fn(torch.cat([x, x]), t, torch.cat([cond, uncond]))
    c, u = out[:1], out[1:]
    return u + scale * (c - u)


class ColourLine:
    """What `clip_sample_to_condition` holds an SR model's x̂0 to (Java's ConditionRange): around each pixel of the
    low-resolution condition, the (2·radius+1)² pixels of its window (stopping at the border) span a colour line: their
    mean, their principal direction, their extent along it and their largest distance from it. An output pixel's x̂0 is
    kept on that stretch of line, widened by margin × its length, and no further from it than the window's farthest
    colour (scaled down towards it). A soft edge between two colours lies on their line, so SR may steepen it; the
    rims SR draws (colours past either side, or a channel's edge shifted against another's, off the line) and a
    pattern on a flat background (a line of no length) do not.

    low_res [B, C, ..., h, w]; x̂0 [B, C, ..., h·factor, w·factor], the same axes in between."""

    def __init__(self, low_res, factor, radius, margin):
        self.factor = factor
        b, c, *mid, h, w = low_res.shape
        x = low_res.movedim(1, -1).reshape(-1, h, w, c).permute(0, 3, 1, 2).double()  # N C h w
        k = 2 * radius + 1
        pad = torch.nn.functional.pad(x, (radius,) * 4)
        inside = torch.nn.functional.pad(torch.ones_like(x[:, :1]), (radius,) * 4)
        nb = torch.nn.functional.unfold(pad, k).view(x.shape[0], c, k * k, h, w)
        valid = torch.nn.functional.unfold(inside, k).view(x.shape[0], 1, k * k, h, w)
        count = valid.sum(2)
        mean = (nb * valid).sum(2) / count  # N C h w
        dev = (nb - mean[:, :, None]) * valid  # outside the border: 0, i.e. the mean, which moves no bound
        cov = torch.einsum("nckhw,ndkhw->nhwcd", dev, dev) / count[:, 0, :, :, None, None]
        direction = torch.linalg.eigh(cov)[1][..., -1]  # N h w C: the largest eigenvalue's vector
        along = torch.einsum("nckhw,nhwc->nkhw", dev, direction)
        off = (dev - along[:, None] * direction.permute(0, 3, 1, 2)[:, :, None]).norm(dim=1).amax(1)
        lo, hi = along.amin(1), along.amax(1)
        widen = margin * (hi - lo)

        def block(v):  # N h w [...] → N h 1 w 1 [...]: an output pixel's f×f block broadcasts over the 1s
            return v[:, :, None, :, None]
        self.mean, self.direction = block(mean.permute(0, 2, 3, 1)), block(direction)
        self.lo, self.hi, self.off = block(lo - widen), block(hi + widen), block(off + widen)

    def hold(self, x0):
        """x̂0 on the line, pixel by pixel: the condition pixel each output pixel lies in gives its line."""
        b, c, *mid, hh, ww = x0.shape
        f = self.factor
        # N h f w f C: each condition pixel's block of output pixels
        y = x0.movedim(1, -1).reshape(-1, hh // f, f, ww // f, f, c).double() - self.mean
        along = (y * self.direction).sum(-1)
        perp = y - along[..., None] * self.direction
        along = torch.maximum(torch.minimum(along, self.hi), self.lo)
        perp = perp * torch.clamp(self.off / perp.norm(dim=-1).clamp_min(1e-30), max=1.0)[..., None]
        held = self.mean + along[..., None] * self.direction + perp
        return held.to(x0.dtype).reshape(b, *mid, hh, ww, c).movedim(-1, 1)


def held_to_conditional(sched, x, t, conditional, guided, clip):
    """A guided prediction at (x, t) with its x̂0 held to the colour lines of the conditional prediction's own x̂0 (as
    the scheduler predicts it, clamped with clip_sample; factor 1, `clip`'s radius and margin): guidance may steepen an
    edge between colours the conditional estimate has, but draws no rim past them (the decoder manifest's
    `hold_guided_to_conditional`; Java's GuidedHold)."""
    x0, _ = sched.predict(conditional, t, x)
    return held_in(lambda *_: guided, sched, ColourLine(x0, 1, clip["radius"], clip["margin"]).hold)(x, t)


def held_in(model_fn, sched, hold):
    """`model_fn(x, t)` with its x̂0 passed through `hold`: the output turned into x̂0 at ᾱ_t, held and turned back (ε
    recomputed from the held x̂0, as `clip_sample` does; Java's ConditionRange.around)."""
    def fn(x, t):
        out = model_fn(x, t)
        if sched.prediction_type != "epsilon":
            return hold(out)
        a = float(sched.ac[t])
        x0 = hold((x - math.sqrt(1 - a) * out) / math.sqrt(a))
        return (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
    return fn


def write_fixtures(root):
    """alphas_cumprod, timesteps and step cases for the Java scheduler tests: `root/schedulers.json` indexes
    float32 .npy files under `root/schedulers/` (paths in the index are relative to root). alphas_cumprod is also
    listed in the JSON as float64 numbers."""
    out_dir = os.path.join(root, "schedulers")
    os.makedirs(out_dir, exist_ok=True)
    index = {"num_train_timesteps": 1000, "alphas_cumprod": {}, "timesteps": {}, "cases": []}
    for sched in ("squaredcos_cap_v2", "linear"):
        f = f"alphas_cumprod_{sched}.npy"
        ac = alphas_cumprod(sched)
        np.save(os.path.join(out_dir, f), ac.astype(np.float32))
        index["alphas_cumprod"][sched] = {"file": "schedulers/" + f, "dtype": "float32", "values": ac.tolist()}
    s = DDIMScheduler()
    for n in (1, 4, 10, 25, 50, 1000):
        index["timesteps"][str(n)] = s.set_timesteps(n)
    g = torch.Generator().manual_seed(1234)
    k = 0
    for sched in ("squaredcos_cap_v2", "linear"):
        for kind, eta in (("ddim", 0.0), ("ddim", 0.5), ("ddpm", None)):
            for pred in ("epsilon", "sample"):
                for clip in (False, True):
                    n, ti = 10, (0, 3, 9)  # first step, a middle step and the last step (t=0)
                    for i in ti:
                        cls = DDIMScheduler if kind == "ddim" else DDPMScheduler
                        sc = cls(1000, sched, pred, clip, 1.0)
                        sc.set_timesteps(n)
                        t = sc.timesteps[i]
                        x = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64).float()
                        out = (torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64) * (1.5 if pred == "sample" else 1)).float()
                        noise = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64).float()
                        xd, od, nd = x.double(), out.double(), noise.double()
                        if kind == "ddim":
                            prev, x0 = sc.step(od, t, xd, eta, nd)
                        else:
                            prev, x0 = sc.step(od, t, xd, nd)
                        name = f"case{k:03d}"
                        files = {}
                        for key, arr in (("sample", x), ("model_output", out), ("noise", noise),
                                         ("prev_sample", prev.float()), ("pred_x0", x0.float())):
                            files[key] = f"schedulers/{name}_{key}.npy"
                            np.save(os.path.join(root, files[key]), arr.numpy().astype(np.float32))
                        index["cases"].append({
                            "name": name, "scheduler": kind, "eta": eta, "beta_schedule": sched,
                            "prediction_type": pred, "clip_sample": clip, "clip_sample_range": 1.0,
                            "num_inference_steps": n, "step_index": i, "t": t, "files": files})
                        k += 1
    # starting part-way down the chain (img2img): which timesteps run, and the sample noised to the first of them;
    # a generator of their own keeps the step cases above unchanged
    g = torch.Generator().manual_seed(4321)
    index["img2img"] = []
    for k, (sched, n, strength) in enumerate((("squaredcos_cap_v2", 25, 0.6), ("squaredcos_cap_v2", 25, 0.3),
                                              ("squaredcos_cap_v2", 50, 0.5), ("squaredcos_cap_v2", 10, 1.0),
                                              ("squaredcos_cap_v2", 1000, 0.29), ("squaredcos_cap_v2", 10, 0.05),
                                              ("linear", 4, 0.75))):
        sc = DDIMScheduler(1000, sched)
        sc.set_timesteps(n)
        ts = sc.timesteps_from(strength)
        entry = {"name": f"img2img{k:02d}", "beta_schedule": sched, "num_inference_steps": n,
                 "strength": strength, "timesteps": ts, "files": {}}
        if ts:
            x0 = torch.rand(2, 3, 4, 4, generator=g, dtype=torch.float64).float() * 2 - 1
            noise = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64).float()
            xt = sc.noised(x0.double(), noise.double(), ts[0]).float()
            for key, arr in (("original_sample", x0), ("noise", noise), ("noisy_sample", xt)):
                entry["files"][key] = f"schedulers/{entry['name']}_{key}.npy"
                np.save(os.path.join(root, entry["files"][key]), arr.numpy().astype(np.float32))
        index["img2img"].append(entry)
    # an SR sampler's x̂0 held to its condition's colour lines: x̂0 held, and one held ε step; frames [B, 3, h, w] as
    # SR_h takes them and a clip [1, 3, F, h, w] as SR^t_l
    g = torch.Generator().manual_seed(5678)
    index["condition_range"] = []
    sc = DDIMScheduler(1000, "squaredcos_cap_v2")
    for k, (shape, factor, radius, margin, t) in enumerate((((2, 3, 5, 6), 2, 1, 0.0, 600),
                                                            ((1, 3, 2, 5, 6), 3, 1, 0.25, 0),
                                                            ((2, 3, 5, 6), 4, 2, 0.1, 980))):
        low_res = torch.rand(*shape, generator=g, dtype=torch.float64).float() * 2 - 1
        big = (*shape[:-2], shape[-2] * factor, shape[-1] * factor)
        x0 = (torch.randn(*big, generator=g, dtype=torch.float64) * 0.8).float()
        x = torch.randn(*big, generator=g, dtype=torch.float64).float()
        out = torch.randn(*big, generator=g, dtype=torch.float64).float()
        line = ColourLine(low_res.double(), factor, radius, margin)
        held = held_in(lambda x_, t_: out.double(), sc, line.hold)(x.double(), t)
        entry = {"name": f"range{k:02d}", "factor": factor, "radius": radius, "margin": margin, "t": t,
                 "beta_schedule": "squaredcos_cap_v2", "prediction_type": "epsilon", "files": {}}
        for key, arr in (("low_res", low_res), ("x0", x0), ("held_x0", line.hold(x0.double()).float()),
                         ("sample", x), ("model_output", out), ("held_output", held.float())):
            entry["files"][key] = f"schedulers/{entry['name']}_{key}.npy"
            np.save(os.path.join(root, entry["files"][key]), arr.numpy().astype(np.float32))
        index["condition_range"].append(entry)
    # a guided decoder step held to its conditional x̂0's colour lines: a clip [1, 3, F, h, w] as D^t's and frames
    g = torch.Generator().manual_seed(9012)
    index["guided_hold"] = []
    sc = DDIMScheduler(1000, "squaredcos_cap_v2", "epsilon", True, 1.0)
    for k, (shape, radius, margin, t) in enumerate((((1, 3, 3, 5, 6), 1, 0.0, 600), ((2, 3, 4, 5), 2, 0.1, 40))):
        x, cond, guided_out = (torch.randn(*shape, generator=g, dtype=torch.float64).float() for _ in range(3))
        held = held_to_conditional(sc, x.double(), t, cond.double(), guided_out.double(),
                                   {"radius": radius, "margin": margin})
        entry = {"name": f"guided{k:02d}", "radius": radius, "margin": margin, "t": t,
                 "beta_schedule": "squaredcos_cap_v2", "prediction_type": "epsilon", "clip_sample": True,
                 "clip_sample_range": 1.0, "files": {}}
        for key, arr in (("sample", x), ("conditional", cond), ("guided", guided_out), ("held", held.float())):
            entry["files"][key] = f"schedulers/{entry['name']}_{key}.npy"
            np.save(os.path.join(root, entry["files"][key]), arr.numpy().astype(np.float32))
        index["guided_hold"].append(entry)
    with open(os.path.join(root, "schedulers.json"), "w") as f:
        json.dump(index, f, indent=1)
    return index
