"""The ONNX graphs of the models (the tensor contract of docs/models.md §2), the fixed example inputs they are traced
and checked on, and the way back: restore_from_onnx loads an exported file's weights into its PyTorch module, so
training resumes from the model repository."""
import torch
import torch.nn as nn

from . import tokenizer as tk

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


def restore_from_onnx(model, name, path):
    """Load the weights of an exported model back into its PyTorch module (the EMA weights that were exported).
    Exports keep every parameter as an initializer under its own name (export.onnx_export); a file exported with
    constant folding is refused, as its weights are merged into anonymous constants."""
    import onnx
    from onnx import numpy_helper
    prefix = GRAPH_PREFIX[name]
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
    found = {k[len(prefix):]: v for k, v in inits.items() if k.startswith(prefix)}
    state = model.state_dict()
    missing = [k for k in state if k not in found]
    if missing:
        raise ValueError(f"{path}: {len(missing)} of {len(state)} parameters are not in the file (exported with "
                         f"constant folding), e.g. {missing[:3]}")
    model.load_state_dict({k: torch.from_numpy(found[k].copy()).reshape(state[k].shape) for k in state})
    return model
