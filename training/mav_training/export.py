"""ONNX export of every model to the tensor contract in docs/models.md §2, with manifest.json and parity
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

from . import tokenizer as tk
from .checkpoints import load_for_export
from .clip import CLIP
from .graphs import contract, graph_for, parity_inputs
from .prior import DiffusionPrior
from .schedulers import write_fixtures
from .unet import SpaceTimeUNet, decoder_config, interpolator_config, sr_high_config, sr_low_config

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "common", "src", "test",
                                         "resources", "fixtures"))
OPSET = 17
MODELS = ["text_encoder", "prior", "decoder", "interpolator", "sr_low", "sr_high", "image_encoder"]


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


# default steps: a default 76-frame 768² job fits the 3-minute budget on 2 cores (per-step times in the training log);
# SR's are the fewest that keep the chain's frames as they are at more (video_eval --select-sr-steps, models.md §9)
# the prior's guidance is its own, 1: guided past 1 its embeddings leave those of real images (docs/models.md §8)
# the decoder's default guidance is 2: at 3 held-out shape fell below its target (docs/training-log.md); it guides at
# every step of 50: a guidance interval halves the rim it draws but slows the motion, and 25 steps lost frames of
# shape and motion on report seeds (video_eval / motion_eval --select-decoder, docs/training-log.md)
DEFAULT_SCHED = {
    "prior": dict(beta_schedule="squaredcos_cap_v2", prediction_type="sample", clip_sample=False,
                  clip_sample_range=1.0, default_steps=25, default_guidance_scale=1.0),
    "decoder": dict(beta_schedule="squaredcos_cap_v2", prediction_type="epsilon", clip_sample=True,
                    clip_sample_range=1.0, default_steps=50, default_guidance_scale=2.0,
                    guidance_min_timestep=0, hold_guided_to_conditional=dict(radius=1, margin=0.0)),
    "interpolator": dict(beta_schedule="squaredcos_cap_v2", prediction_type="epsilon", clip_sample=True,
                         clip_sample_range=1.0, default_steps=25, default_guidance_scale=1.0),
    "sr_low": dict(beta_schedule="squaredcos_cap_v2", prediction_type="epsilon", clip_sample=True,
                   clip_sample_range=1.0, default_steps=5, default_guidance_scale=1.0,
                   clip_sample_to_condition=dict(radius=1, margin=0.0)),
    "sr_high": dict(beta_schedule="squaredcos_cap_v2", prediction_type="epsilon", clip_sample=True,
                    clip_sample_range=1.0, default_steps=2, default_guidance_scale=1.0,
                    clip_sample_to_condition=dict(radius=1, margin=0.0)),
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
    models, E, tok_path, training, metrics, extra = load_for_export(a.checkpoints)
    export_all(models, a.out, tok_path, E, a.version, training, metrics, extra_params=extra, only=a.only,
               fixtures_root=a.checkpoints, parity=not a.no_parity)


if __name__ == "__main__":
    sys.exit(main())
