"""Checkpoints and trained weights: checkpoints/<stage>.pt (save, resume, pack), the fallback to the exported ONNX
files of the model repository when a stage has no checkpoint (a fresh checkout), and the EMA models and training
records that export, the reference sampler and the evaluation read."""
import json
import os
import shutil

import torch

from . import tokenizer as tk
from .clip import CLIP
from .graphs import restore_from_onnx
from .layers import blend_temporal_convs
from .prior import DiffusionPrior
from .recipe import (COMMAND, DATA, E, EXPORTS, SAMPLING_FRAME_NOISE_CORRELATION, SEED, STAGES, STAGES_OF,
                     TEMPORAL_CONV_BLEND, MOTION_TERM_BLEND, MOTION_FPS_EXPONENT, make_decoder, make_interpolator,
                     make_sr_high, make_sr_low)

MODELS_DIR = "../models"  # the model repository a stage falls back to when checkpoints/ lacks it (train --out)


def ckpt_path(root, stage):
    return os.path.join(root, f"{stage}.pt")


def read_ckpt(root, stage):
    return torch.load(ckpt_path(root, stage), map_location="cpu")


def write_ckpt(root, stage, state):
    """Atomically, so a run killed while saving leaves the previous checkpoint."""
    tmp = ckpt_path(root, stage) + ".tmp"
    torch.save(to_cpu(state), tmp)
    os.replace(tmp, ckpt_path(root, stage))


def checkpoint_step(root, stage):
    """The step a stage's checkpoint is at, 0 without one."""
    return read_ckpt(root, stage)["step"] if os.path.exists(ckpt_path(root, stage)) else 0


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


def load_grown(model, state, stage):
    """load_state_dict that lets a model have layers its checkpoint lacks, as long as they start as a no-op
    (zero-initialised, like temporal layers when D becomes D^t): a trained stage resumes after the architecture grew.
    Returns the names that kept their initial values."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"[{stage}] checkpoint has weights the model lacks: {unexpected[:5]}")
    if missing:
        print(f"[{stage}] {len(missing)} new weights start from their initial values: {missing[:4]}...", flush=True)
    return missing


def exported_dir(models_dir, name):
    return os.path.join(models_dir, name, "1")


def exported_info(models_dir, name):
    """The per-stage training records in an exported manifest."""
    with open(os.path.join(exported_dir(models_dir, name), "manifest.json")) as f:
        return json.load(f)["training"].get("stages", {})


def restore_exported(models_dir, name, model):
    part = {"text_encoder": "text", "image_encoder": "image"}.get(name)
    restore_from_onnx(getattr(model, part) if part else model, name,
                      os.path.join(exported_dir(models_dir, name), "model.onnx"))
    return model


def load_ema(root, stage, model):
    """EMA weights of a trained stage: its checkpoint, else (fresh checkout) the model it exported."""
    if os.path.exists(ckpt_path(root, stage)):
        ckpt = read_ckpt(root, stage)
        load_grown(model, ema_weights(root, stage, ckpt), stage)
        if "phase_bias" in ckpt:
            fold_phase_bias(model, ckpt["phase_bias"])
    else:
        for name in EXPORTS[stage]:
            restore_exported(MODELS_DIR, name, model)
    return model.eval()


def fold_phase_bias(model, pattern):
    """Subtracts a pixel-shuffle head's fixed pattern [3, r, r] (phase_bias.py) from its bias: conv_out's channel
    c·r² + y·r + x becomes output pixel (y, x) of colour c."""
    with torch.no_grad():
        model.conv_out.bias -= torch.as_tensor(pattern, dtype=model.conv_out.bias.dtype).reshape(-1)


def tokenizer_path(root):
    path = os.path.join(root, "tokenizer", "tokenizer.json")
    return path if os.path.exists(path) else os.path.join(exported_dir(MODELS_DIR, "text_encoder"), "tokenizer.json")


def load_tokenizer(root):
    return tk.Tokenizer.load(tokenizer_path(root))


def load_clip(root):
    tok = load_tokenizer(root)
    return load_ema(root, "clip", CLIP(len(tok), E)), tok


def stage_record(root, stage):
    """A stage's training record for its manifest: from its checkpoint, else from the exported manifest (trained in
    an earlier checkout), else None (never trained)."""
    p = ckpt_path(root, stage)
    if not os.path.exists(p):
        try:
            info = exported_info(MODELS_DIR, EXPORTS[stage][0]).get(stage)
        except (OSError, KeyError, ValueError):
            return None
        if info and stage == "decoder_video":
            info = {**info, **blends()}  # load_for_export moves an exported D^t to the recipe's blends
        return info
    s = torch.load(p, map_location="cpu")
    info = {"steps": s["step"], "minutes": round(s["elapsed"] / 60, 1), "batch": s.get("batch"), "lr": s.get("lr"),
            "final_loss": s["losses"][-1][1] if s["losses"] else None, "devices": s.get("devices", ["cpu"]),
            "frame_noise_correlation": s.get("frame_noise_correlation", 0.0)}
    if "phase_bias" in s:  # RMS of the folded pattern, 8-bit levels
        info["phase_bias_levels"] = round(float(s["phase_bias"].pow(2).mean().sqrt()) * 127.5, 3)
    if stage == "decoder_video":
        info.update(blends())
    return info


def blends():
    return {"temporal_conv_blend": TEMPORAL_CONV_BLEND, "motion_term_blend": MOTION_TERM_BLEND,
            "motion_fps_exponent": MOTION_FPS_EXPONENT}


def exported_blends():
    """The blends an exported D^t holds (motion terms as its kernels' before the two were recorded apart)."""
    info = exported_info(MODELS_DIR, "decoder").get("decoder_video", {})
    alpha = info.get("temporal_conv_blend", 1.0)
    return alpha, info.get("motion_term_blend", alpha)


def load_for_export(root, decoder_stage=None):
    """Models (EMA weights) for export, sampling and evaluation: from checkpoints/, else from the model repository (a
    stage trained in an earlier checkout); a stage trained in neither keeps its initial weights (0 steps in the
    manifest). `decoder_stage` picks D or D^t for the decoder; by default D^t when it exists.
    Returns (models, E, tokenizer path, training records, metrics, manifest parameters to add)."""
    tok = load_tokenizer(root)

    def trained(stage, model):
        if os.path.exists(ckpt_path(root, stage)) or stage_record(root, stage):
            return load_ema(root, stage, model)
        return model

    clip = trained("clip", CLIP(len(tok), E))
    prior = trained("prior", DiffusionPrior(E))
    # a checkpoint of this checkout wins over the record of an earlier one (a fresh D before its D^t exists)
    dec_stage = decoder_stage or next(
        (st for st in ("decoder_video", "decoder") if os.path.exists(ckpt_path(root, st))),
        "decoder_video" if stage_record(root, "decoder_video") else "decoder")
    dec = trained(dec_stage, make_decoder())
    if dec_stage == "decoder_video":
        if os.path.exists(ckpt_path(root, dec_stage)):
            blend_temporal_convs(dec, TEMPORAL_CONV_BLEND, MOTION_TERM_BLEND)
        else:  # an exported D^t is blended already, maybe to other blends than the recipe's
            alpha, motion_alpha = exported_blends()
            blend_temporal_convs(dec, TEMPORAL_CONV_BLEND / alpha, MOTION_TERM_BLEND / motion_alpha)
        dec.motion_fps_exponent = MOTION_FPS_EXPONENT  # a sampling setting: the graph computes it from fps
    models = {"clip": clip, "prior": prior, "decoder": dec,
              "interpolator": trained("interpolator", make_interpolator()),
              "sr_low": trained("sr_low", make_sr_low()), "sr_high": trained("sr_high", make_sr_high())}
    training, metrics = {}, {}
    for name, stages in STAGES_OF.items():
        infos = {st: stage_record(root, st) for st in stages}
        done = [i for i in infos.values() if i]
        training[name] = {"data": DATA[name], "seed": SEED, "ema_decay": 0.999, "command": COMMAND,
                          "stages": infos, "steps": sum(i["steps"] for i in done),
                          "hardware": ", ".join(sorted({d for i in done for d in i["devices"]}))}
    mfile = os.path.join(root, "metrics.json")
    if os.path.exists(mfile):
        with open(mfile) as f:
            metrics = json.load(f)
    # D^t, trained on correlated frame noise, is sampled from more of it; D from independent frames as it trained
    trained_rho = (training["decoder"]["stages"][dec_stage] or {}).get("frame_noise_correlation", 0.0)
    rho = SAMPLING_FRAME_NOISE_CORRELATION if trained_rho else 0.0
    return models, E, tokenizer_path(root), training, metrics, {"decoder": {"frame_noise_correlation": rho}}


PACKED_KEYS = ("ema", "ema_n", "step", "elapsed", "losses", "gen", "batch", "lr", "devices", "frame_noise_correlation")


def pack(root, dest):
    """Copy checkpoints/ to dest with only what export and resume need (EMA weights and the training record). Why:
    files come back from a rented GPU machine in pieces of at most 16 MB; a packed checkpoint is a quarter of a full
    one. Resuming from it starts the optimiser afresh. Once D^t exists D keeps only its record: export takes D^t."""
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
