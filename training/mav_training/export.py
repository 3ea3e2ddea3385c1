"""ONNX export of every model to the tensor contract in docs/architecture.md, with manifest.json and parity
fixtures (fixed inputs and PyTorch outputs as .npy) for the Java ONNX Runtime tests.

  python3 -m mav_training.export --random --out ../testing/models      # tiny random-weight models for tests
  python3 -m mav_training.export --out ../models                       # trained models from checkpoints/
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn as nn

from . import tokenizer as tk
from .clip import CLIP
from .prior import DiffusionPrior
from .schedulers import write_fixtures
from .unet import SpaceTimeUNet, decoder_config, interpolator_config, sr_high_config, sr_low_config

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "common", "src", "test",
                                         "resources", "fixtures"))
OPSET = 17
MODELS = ["text_encoder", "prior", "decoder", "interpolator", "sr_low", "sr_high", "image_encoder"]
# Graph wrappers hold their network under these attribute names, so an initializer `unet.conv_in.weight` is the
# parameter `conv_in.weight` of the model (see restore_from_onnx).
GRAPH_PREFIX = {"text_encoder": "text.", "image_encoder": "image.", "prior": "prior.", "decoder": "unet.",
                "interpolator": "unet.", "sr_low": "unet.", "sr_high": "unet."}


class TextEncoderGraph(nn.Module):
    def __init__(self, text):
        super().__init__()
        self.text = text

    def forward(self, input_ids):
        return self.text(input_ids)


class ImageEncoderGraph(nn.Module):
    """CLIP's image tower. No pipeline stage runs it; it ships so that training can resume from models/ (the
    decoder and interpolator learn from its embeddings) and so users can embed their own images."""

    def __init__(self, image):
        super().__init__()
        self.image = image

    def forward(self, image):
        return self.image(image)


class PriorGraph(nn.Module):
    def __init__(self, prior):
        super().__init__()
        self.prior = prior

    def forward(self, noisy_image_embed, timestep, text_embed, text_tokens):
        return self.prior(noisy_image_embed, timestep, text_embed, text_tokens)


class DecoderGraph(nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, image_embed, fps):
        return self.unet(sample, timestep, image_embed=image_embed, fps=fps)


class InterpolatorGraph(nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, image_embed, fps, masked_frames, mask, frame_skip):
        return self.unet(sample, timestep, image_embed=image_embed, fps=fps, frame_skip=frame_skip,
                         cond=torch.cat([masked_frames, mask], dim=1))


class SuperResGraph(nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, low_res):
        return self.unet(sample, timestep, cond=low_res)


def contract(name, E, L=tk.MAX_LENGTH):
    """(inputs, outputs, dynamic axes) as lists of (name, dtype, shape with -1 for dynamic dims)."""
    f = "float32"
    v64 = [-1, 3, -1, 64, 64]
    if name == "text_encoder":
        return [("input_ids", "int64", [-1, L])], [("text_embed", f, [-1, E]), ("text_tokens", f, [-1, L, E])]
    if name == "image_encoder":
        return [("image", f, [-1, 3, 64, 64])], [("image_embed", f, [-1, E])]
    if name == "prior":
        return ([("noisy_image_embed", f, [-1, E]), ("timestep", "int64", [-1]), ("text_embed", f, [-1, E]),
                 ("text_tokens", f, [-1, L, E])], [("predicted_image_embed", f, [-1, E])])
    if name == "decoder":
        return ([("sample", f, v64), ("timestep", "int64", [-1]), ("image_embed", f, [-1, E]), ("fps", f, [-1])],
                [("noise_pred", f, v64)])
    if name == "interpolator":
        return ([("sample", f, v64), ("timestep", "int64", [-1]), ("image_embed", f, [-1, E]), ("fps", f, [-1]),
                 ("masked_frames", f, v64), ("mask", f, [-1, 1, -1, 64, 64]), ("frame_skip", f, [-1])],
                [("noise_pred", f, v64)])
    if name == "sr_low":
        return ([("sample", f, [-1, 3, -1, 256, 256]), ("timestep", "int64", [-1]), ("low_res", f, v64)],
                [("noise_pred", f, [-1, 3, -1, 256, 256])])
    if name == "sr_high":
        return ([("sample", f, [-1, 3, 768, 768]), ("timestep", "int64", [-1]), ("low_res", f, [-1, 3, 256, 256])],
                [("noise_pred", f, [-1, 3, 768, 768])])
    raise ValueError(name)


def _tile(shape, period, gen):
    """Random values periodic in the last two axes (compresses well in git; full-size parity inputs)."""
    base = torch.randn(*shape[:-2], period, period, generator=gen)
    reps = [1] * (len(shape) - 2) + [shape[-2] // period + 1, shape[-1] // period + 1]
    return base.repeat(*reps)[..., : shape[-2], : shape[-1]].contiguous()


def parity_inputs(name, E, tok):
    """Fixed example inputs (B=1 or 2, F=2) for the export trace and the parity fixture."""
    g = torch.Generator().manual_seed(7)
    if name == "text_encoder":
        ids = [tok.encode("a red fish swimming left"), tok.encode("A GREEN arrow pointing up!")]
        return {"input_ids": torch.tensor(ids, dtype=torch.int64)}
    if name == "prior":
        te = torch.nn.functional.normalize(torch.randn(2, E, generator=g), dim=-1)
        tt = torch.randn(2, tk.MAX_LENGTH, E, generator=g) * 0.5
        tt[:, 10:] = 0
        tt[1] = 0  # row 1 is the unconditional branch
        te[1] = 0
        return {"noisy_image_embed": torch.randn(2, E, generator=g), "timestep": torch.tensor([900, 10]),
                "text_embed": te, "text_tokens": tt}
    if name == "image_encoder":
        return {"image": torch.rand(2, 3, 64, 64, generator=g) * 2 - 1}
    emb = torch.nn.functional.normalize(torch.randn(1, E, generator=g), dim=-1)
    if name == "decoder":
        return {"sample": torch.randn(1, 3, 2, 64, 64, generator=g), "timestep": torch.tensor([500]),
                "image_embed": emb, "fps": torch.tensor([8.0])}
    if name == "interpolator":
        mask = torch.zeros(1, 1, 3, 64, 64)
        mask[:, :, 0] = 1
        mask[:, :, 2] = 1
        masked = torch.randn(1, 3, 3, 64, 64, generator=g).clamp(-1, 1) * mask
        return {"sample": torch.randn(1, 3, 3, 64, 64, generator=g), "timestep": torch.tensor([500]),
                "image_embed": emb, "fps": torch.tensor([40.0]), "masked_frames": masked, "mask": mask,
                "frame_skip": torch.tensor([2.0])}
    if name == "sr_low":
        return {"sample": _tile([1, 3, 2, 256, 256], 64, g), "timestep": torch.tensor([500]),
                "low_res": _tile([1, 3, 2, 64, 64], 16, g).clamp(-1, 1)}
    if name == "sr_high":
        return {"sample": _tile([1, 3, 768, 768], 96, g), "timestep": torch.tensor([500]),
                "low_res": _tile([1, 3, 256, 256], 32, g).clamp(-1, 1)}
    raise ValueError(name)


def graph_for(name, models):
    if name == "text_encoder":
        return TextEncoderGraph(models["clip"].text)
    if name == "image_encoder":
        return ImageEncoderGraph(models["clip"].image)
    if name == "prior":
        return PriorGraph(models["prior"])
    if name == "decoder":
        return DecoderGraph(models["decoder"])
    if name == "interpolator":
        return InterpolatorGraph(models["interpolator"])
    return SuperResGraph(models[name])


def dynamic_axes(specs):
    axes = {}
    for n, _, shape in specs:
        d = {i: ("batch" if i == 0 else "frames") for i, s in enumerate(shape) if s == -1}
        if d:
            axes[n] = d
    return axes


def onnx_export(graph, args, path, ins, outs, keep_names=True):
    """torch.onnx.export to the contract. keep_names: every parameter stays an initializer under its own name, so
    training can resume from the file (restore_from_onnx): no constant folding (ONNX Runtime folds the transposes
    itself when it loads) and the export runs in training mode, where torch does not merge parameters of equal
    value (the identity temporal convs and zero biases of an untrained D^t would otherwise share one name). No
    module here behaves differently in training mode (no dropout, no batch norm)."""
    mode = graph.training
    graph.train(keep_names)
    try:
        with torch.no_grad():
            torch.onnx.export(graph, args, path, input_names=[n for n, _, _ in ins],
                              output_names=[n for n, _, _ in outs], dynamic_axes=dynamic_axes(ins + outs),
                              opset_version=OPSET, do_constant_folding=not keep_names,
                              training=torch.onnx.TrainingMode.PRESERVE if keep_names else
                              torch.onnx.TrainingMode.EVAL)
    finally:
        graph.train(mode)


def export_model(name, graph, example, out_dir, manifest):
    """Write model.onnx + manifest.json into out_dir; returns the PyTorch outputs on `example`."""
    os.makedirs(out_dir, exist_ok=True)
    ins, outs = manifest["_contract"]
    graph.eval()
    args = tuple(example[n] for n, _, _ in ins)
    path = os.path.join(out_dir, "model.onnx")
    onnx_export(graph, args, path, ins, outs)
    with torch.no_grad():
        result = graph(*args)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = {n.op_type for n in m.graph.node}
    if "Einsum" in ops:
        raise RuntimeError(f"{name}: exported graph contains Einsum")
    del manifest["_contract"]
    manifest["inputs"] = [{"name": n, "dtype": d, "shape": s} for n, d, s in ins]
    manifest["outputs"] = [{"name": n, "dtype": d, "shape": s} for n, d, s in outs]
    manifest["files"] = {"model": "model.onnx", "bytes": os.path.getsize(path)}
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    if not isinstance(result, (tuple, list)):
        result = (result,)
    return {n: r for (n, _, _), r in zip(outs, result)}


def restore_from_onnx(model, name, path):
    """Load the weights of an exported model back into its PyTorch module (the EMA weights that were exported).

    Files exported without constant folding hold every parameter under its own name. Older files (models/*/1)
    were folded: GroupNorm scales and shifts became anonymous Mul/Add constants and the weights of Linear layers
    on 3-D inputs transposed MatMul constants; those are matched to their parameters in the order the model calls
    its layers, which is the order the trace wrote the graph in. Anything that still does not fit is refused."""
    import onnx
    from onnx import numpy_helper
    prefix = GRAPH_PREFIX[name]
    graph = onnx.load(path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    found = {k[len(prefix):]: v for k, v in inits.items() if k.startswith(prefix)}
    state = model.state_dict()
    missing = [k for k in state if k not in found]
    if missing and prefix == "unet.":
        found.update(_match_folded(model, name, graph, inits, set(missing), path))
    elif missing:
        raise ValueError(f"{path}: {len(missing)} of {len(state)} parameters are not in the file (exported with "
                         f"constant folding), e.g. {missing[:3]}")
    model.load_state_dict({k: torch.from_numpy(found[k].copy()).reshape(state[k].shape) for k in state})
    return model


def _match_folded(model, name, graph, inits, missing, path):
    # anonymous constants in the order the graph first consumes them, by consuming op
    consumed, seen = {"Mul": [], "Add": [], "MatMul": []}, set()
    for node in graph.node:
        for i in node.input:
            if i in inits and i not in seen and not i.startswith(GRAPH_PREFIX[name]) and node.op_type in consumed:
                seen.add(i)
                consumed[node.op_type].append(i)
    # parameters in the order the model first calls their layers
    wanted, names = {"Mul": [], "Add": [], "MatMul": []}, {m: n for n, m in model.named_modules()}
    calls = []
    hooks = [m.register_forward_pre_hook(lambda m, _: calls.append(m))
             for m in model.modules() if isinstance(m, (nn.GroupNorm, nn.Linear))]
    with torch.no_grad():
        graph_for(name, {name: model})(*parity_inputs(name, _embed_dim(model), None).values())
    for h in hooks:
        h.remove()
    done = set()
    for m in calls:
        if m in done:
            continue
        done.add(m)
        n = names[m]
        for p, op in (("weight", "Mul"), ("bias", "Add")) if isinstance(m, nn.GroupNorm) else (("weight", "MatMul"),):
            if f"{n}.{p}" in missing:
                wanted[op].append(f"{n}.{p}")
    out, params = {}, dict(model.named_parameters())
    for op in wanted:
        if len(wanted[op]) != len(consumed[op]):
            raise ValueError(f"{path}: {len(missing)} parameters are not in the file by name and the folded "
                             f"{op} constants do not match them ({len(consumed[op])} for {len(wanted[op])})")
        for k, c in zip(wanted[op], consumed[op]):
            v = inits[c].T if op == "MatMul" else inits[c]
            if v.size != params[k].numel():
                raise ValueError(f"{path}: folded constant {c} does not fit {k}")
            out[k] = v
    left = missing - set(out)
    if left:
        raise ValueError(f"{path}: {len(left)} parameters are not in the file, e.g. {sorted(left)[:3]}")
    return out


def _embed_dim(unet):
    proj = unet.image_proj
    return proj[0].in_features if proj is not None else 0


def write_parity(name, example, outputs, version_dir, fixtures_root):
    d = os.path.join(fixtures_root, "parity", name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    index = {"model": name, "model_dir": os.path.relpath(version_dir, os.path.join(FIXTURES, "..", "..", "..", "..",
                                                                                   "..")),
             "inputs": {}, "outputs": {}, "tolerance": 1e-3}
    for n, t in example.items():
        if t.dtype == torch.int64:  # NpyCodec reads float32 only: integer inputs go into the JSON
            index["inputs"][n] = {"dtype": "int64", "shape": list(t.shape), "values": t.flatten().tolist()}
        else:
            np.save(os.path.join(d, n + ".npy"), t.numpy().astype(np.float32))
            index["inputs"][n] = {"dtype": "float32", "shape": list(t.shape), "file": n + ".npy"}
    for n, t in outputs.items():
        np.save(os.path.join(d, n + ".npy"), t.numpy().astype(np.float32))
        index["outputs"][n] = {"dtype": "float32", "shape": list(t.shape), "file": n + ".npy"}
    with open(os.path.join(d, "parity.json"), "w") as f:
        json.dump(index, f, indent=1)


# default steps: a 76-frame 768² job costs ~100 s of single-thread ONNX Runtime time with these (measured with
# training/tools/ort_check.sh time: sr_high ≈ 12.6 s per step for 76 frames, sr_low ≈ 3.7 s, interpolator ≈ 0.4 s,
# decoder ≈ 0.14 s with guidance), inside the 3-minute budget on 2 cores.
# The prior's guidance is its own (the request's scale guides the decoder): guided past 1, its embeddings leave the
# region of real image embeddings and the decoder draws the wrong colour (prior → D, 36 samples: right colour 94 %
# at prior guidance 1, 42 % at 3, 39 % at 6; cosine to the true pair's mean embedding 0.91, 0.81, 0.65; measured
# with the previous prior, which diffused the unscaled embedding and returned the caption's mean, prior.py).
# The decoder's guidance 2 rather than 3: with D at 41,999 steps the full evaluation (seeds 0-3) kept shape on
# held-out pairs at 88 % (79 % at 3) with facing and colour unchanged within the noise, and on 48 fish and arrows
# from true embeddings D drew the right shape and facing 41 times at 2, 37 at 3 (docs/models.md §4).
DEFAULT_SCHED = {
    "prior": dict(beta_schedule="squaredcos_cap_v2", prediction_type="sample", clip_sample=False,
                  clip_sample_range=1.0, default_steps=25, default_guidance_scale=1.0),
    "decoder": dict(beta_schedule="squaredcos_cap_v2", prediction_type="epsilon", clip_sample=True,
                    clip_sample_range=1.0, default_steps=50, default_guidance_scale=2.0),
    "interpolator": dict(beta_schedule="squaredcos_cap_v2", prediction_type="epsilon", clip_sample=True,
                         clip_sample_range=1.0, default_steps=25, default_guidance_scale=1.0),
    "sr_low": dict(beta_schedule="squaredcos_cap_v2", prediction_type="epsilon", clip_sample=True,
                   clip_sample_range=1.0, default_steps=10, default_guidance_scale=1.0),
    "sr_high": dict(beta_schedule="squaredcos_cap_v2", prediction_type="epsilon", clip_sample=True,
                    clip_sample_range=1.0, default_steps=4, default_guidance_scale=1.0),
}


# ↑F's sampler starts its in-between frames from the blend of their neighbouring keyframes, noised this far down the
# chain (SDEdit; 1 = from pure noise, where the shipped ↑F draws blobs between crisp keyframes). 0.05 of 25 steps is
# one step, at t = 0: the shipped ↑F loses shape at every larger strength (video_eval --select-strength on selection
# seeds, docs/models.md §9), so it only finishes the blend; a better ↑F can take a larger one.
INBETWEEN_STRENGTH = 0.05


def parameters_for(name, E, extra):
    p = {"embed_dim": E}
    if name == "text_encoder":
        p.update(max_length=tk.MAX_LENGTH)
    if name == "image_encoder":
        p.update(height=64, width=64, channels=3)
    if name == "decoder":
        p.update(frames=16, height=64, width=64, channels=3, fps_range=[1, 30])
    if name == "interpolator":
        p.update(frames=76, keyframes=16, frame_skip=5, height=64, width=64, channels=3,
                 inbetween_strength=INBETWEEN_STRENGTH)
    if name == "sr_low":
        p.update(frames=76, height=256, width=256, low_res_height=64, low_res_width=64, unshuffle=4)
    if name == "sr_high":
        p.update(height=768, width=768, low_res_height=256, low_res_width=256, unshuffle=3, temporal=False,
                 shared_noise_across_frames=True)
    p.update(extra.get(name, {}))
    return p


def build_models(E, vocab_size, tiny):
    torch.manual_seed(0)
    clip = CLIP(vocab_size, E)
    if tiny:
        clip.text = clip.text.__class__(vocab_size, E, width=32, layers=1, heads=2)
        clip.image = clip.image.__class__(E, channels=(8, 16))
    prior = DiffusionPrior(E, width=32 if tiny else 128, layers=1 if tiny else 4, heads=2 if tiny else 4)
    return {
        "clip": clip, "prior": prior,
        "decoder": SpaceTimeUNet(**decoder_config(E, tiny)),
        "interpolator": SpaceTimeUNet(**interpolator_config(E, tiny)),
        "sr_low": SpaceTimeUNet(**sr_low_config(tiny)),
        "sr_high": SpaceTimeUNet(**sr_high_config(tiny)),
    }


def perturb(models, scale=0.05):
    """Random-weight test models: jitter every parameter so zero-initialised paths (temporal attention output,
    dirac temporal convs) are exercised by the parity fixtures too."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in models.values():
            for p in m.parameters():
                p.add_(torch.randn(p.shape, generator=g) * scale)


def export_all(models, out_root, tokenizer_path, E, version="1", training=None, metrics=None, sched=None,
               extra_params=None, fixtures_root=FIXTURES, only=None, parity=True):
    tok = tk.Tokenizer.load(tokenizer_path)
    sched = sched or DEFAULT_SCHED
    for name in MODELS:
        if only and name not in only:
            continue
        vdir = os.path.join(out_root, name, version)
        ins, outs = contract(name, E)
        manifest = {"name": name, "version": version, "_contract": (ins, outs),
                    "format": "onnx", "opset": OPSET}
        if name in sched:
            manifest["scheduler"] = dict(num_train_timesteps=1000, **sched[name])
        manifest["parameters"] = parameters_for(name, E, extra_params or {})
        if name == "text_encoder":
            manifest["tokenizer"] = {"file": "tokenizer.json", "max_length": tk.MAX_LENGTH, "pad_id": tk.PAD,
                                     "bos_id": tk.BOS, "eos_id": tk.EOS}
            os.makedirs(vdir, exist_ok=True)
            dst = os.path.join(vdir, "tokenizer.json")
            if not (os.path.exists(dst) and os.path.samefile(tokenizer_path, dst)):  # fresh checkout: it is the source
                shutil.copy(tokenizer_path, dst)
        manifest["training"] = (training or {}).get(name, {})
        manifest["metrics"] = (metrics or {}).get(name, {})
        example = parity_inputs(name, E, tok)
        outputs = export_model(name, graph_for(name, models), example, vdir, manifest)
        if parity:
            write_parity(name, example, outputs, vdir, fixtures_root)
        print(f"exported {name} → {vdir} ({os.path.getsize(os.path.join(vdir, 'model.onnx')) / 1e6:.2f} MB)",
              flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--random", action="store_true", help="tiny random-weight models (Java integration tests)")
    p.add_argument("--out", default="../models")
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--version", default="1")
    p.add_argument("--embed-dim", type=int, default=64)
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--no-parity", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.random:
        tok_dir = os.path.join(a.checkpoints, "tokenizer")
        tok_path, tok = tk.build(tok_dir, fixture=os.path.join(FIXTURES, "tokenizer_cases.json"))
        E = 16
        models = build_models(E, len(tok), tiny=True)
        perturb(models)
        cmd = "python3 -m mav_training.export --random --out ../testing/models"
        training = {n: {"data": "none (random initial weights, perturbed)", "steps": 0, "seed": 0, "command": cmd}
                    for n in MODELS}
        sched = {k: dict(v, default_steps=2) for k, v in DEFAULT_SCHED.items()}
        # half of 2 steps is one: the tests' interpolation still calls its model from the keyframes' blend
        extra = {"interpolator": {"inbetween_strength": 0.5}}
        export_all(models, a.out, tok_path, E, a.version, training=training, sched=sched, extra_params=extra,
                   only=a.only, parity=not a.no_parity)
        write_fixtures(FIXTURES)
        return
    from .train import load_for_export
    models, E, tok_path, training, metrics, sched, extra = load_for_export(a.checkpoints)
    export_all(models, a.out, tok_path, E, a.version, training, metrics, sched, extra, only=a.only,
               fixtures_root=a.checkpoints, parity=not a.no_parity)


if __name__ == "__main__":
    sys.exit(main())
