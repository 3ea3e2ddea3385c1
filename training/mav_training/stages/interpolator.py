"""↑F: D^t fine-tuned for masked frame interpolation, the known frames and their mask as four extra input channels."""
import numpy as np
import torch

from ..checkpoints import load_clip, load_ema
from ..data import videos
from ..losses import diffusion_loss
from ..recipe import OFFSET_NOISE, make_decoder, make_interpolator
from .base import Stage


def interpolator_from_decoder(dec):
    """↑F starts as D^t: every weight copied; the conv_in weights of the new masked-frame and mask channels start at
    zero so the fine-tuning starts from the decoder's behaviour."""
    m = make_interpolator()
    sd = dec.state_dict()
    own = m.state_dict()
    for k, v in sd.items():
        if k == "conv_in.weight":
            w = torch.zeros_like(own[k])
            w[:, : v.shape[1]] = v  # the pixel unshuffle keeps channel-major order: sample channels come first
            own[k] = w
        elif k in own and own[k].shape == v.shape:
            own[k] = v
    m.load_state_dict(own)
    return m


class InterpolatorStage(Stage):
    """D^t's spatial layers stay frozen: fine-tuning them on a CPU budget blurred every frame ↑F draws. The temporal
    layers, the fps and frame-skip embeddings and conv_in (which reads the masked frames and the mask) train; the loss
    counts the frames between keyframes only, which are all ↑F draws. No condition dropout (unguided)."""
    name = "interpolator"
    keyframes = 4

    def trainable(self):
        m = self.model
        return {id(p) for p in m.temporal_parameters()} | {
            id(p) for mod in (m.fps_mlp, m.skip_mlp, m.conv_in) for p in mod.parameters()}

    def build(self):
        self.clip, _ = load_clip(self.root)
        if self.args.resume:  # every weight comes from its checkpoint or its exported file
            self.model = make_interpolator()
        else:
            self.model = interpolator_from_decoder(load_ema(self.root, "decoder_video", make_decoder())).train()

    def data(self, step, progress):
        rng = self.rng(step)
        skip = int(rng.integers(2, 6))
        frames = (self.keyframes - 1) * skip + 1
        fps = [float(rng.integers(2, 9)) * skip for _ in range(self.batch)]  # as the Java stage: keyframe fps × skip
        clips = videos(self.world, 40_000_000 + step * self.batch, frames, fps)
        return torch.from_numpy(np.stack([c[0] for c in clips])), torch.tensor(fps), skip

    def loss(self, batch):
        v, fps, skip = batch
        n, frames = v.shape[0], v.shape[2]
        v = v.to(self.device)
        mask = torch.zeros(n, 1, frames, 64, 64, device=self.device)
        mask[:, :, ::skip] = 1
        between = 1 - mask[:, :, :, :1, :1]
        with torch.no_grad():
            emb = self.clip.image(v[:, :, 0])
        return diffusion_loss(self.model, v, self.gen, OFFSET_NOISE, image_embed=emb, fps=fps,
                              frame_skip=torch.full((n,), float(skip)), cond=torch.cat([v * mask, mask], dim=1),
                              pixel_weight=between / between.mean())
