"""The decoder, image-first then video: D learns 64² images from CLIP image embeddings with its temporal layers
skipped; D^t switches them on and trains only them (and the fps embedding) on unlabelled 16-frame clips."""
import numpy as np
import torch

from .. import world as W
from ..checkpoints import exported_blends, load_clip, load_ema
from ..data import fps_for, image_batch, shape_decoy, still_decoy, videos
from ..layers import blend_temporal_convs
from ..losses import diffusion_loss, foreground_weight
from ..recipe import FRAME_NOISE_CORRELATION, GENERATIVE_T_POWER, OFFSET_NOISE, make_decoder
from .base import Stage

EMBED_DROPOUT = 0.1  # the unconditional branch classifier-free guidance needs
# shape decoys from this t up: above it x_t's shape is a blur D must not copy
DECOY_T = 600
# facing decoys (the same shape facing another way) from lower down: below DECOY_T D still copied x_t's facing
FACING_DECOY_T = 300
# D's squared error on object pixels (the object or its decoy) counts 1 + this: the object is a few % of the pixels
FOREGROUND_WEIGHT = 4.0
# every fish or arrow clip of D^t at t ≥ STILL_DECOY_T takes its x_t frozen at the middle frame: sampling starts still
STILL_DECOY_T = 500
STILL_DECOY_SHARE = 1.0
# D^t's frame-to-frame part of the error counts 1 + this: motion is a few pixels a frame
TEMPORAL_ERROR_WEIGHT = 4.0


class DecoderStage(Stage):
    """D: the text-free image decoder from the CLIP image embedding (temporal layers exist but are skipped)."""
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
        return imgs, decoys, start, foreground_weight(imgs, decoys, scenes, FOREGROUND_WEIGHT)

    def loss(self, batch):
        imgs, decoys, start, pixel_weight = batch
        n = imgs.shape[0]
        imgs = imgs.to(self.device)
        with torch.no_grad():
            emb = self.clip.image(imgs) * self.keep(n, EMBED_DROPOUT)[:, None]
        fps = torch.full((n,), 8.0)
        return diffusion_loss(self.model, imgs, self.gen, OFFSET_NOISE, t_power=GENERATIVE_T_POWER, decoy=decoys,
                              decoy_from=start, pixel_weight=pixel_weight, image_embed=emb, fps=fps)


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


class DecoderVideoStage(Stage):
    """D^t: D with its temporal layers switched on, trained on unlabelled clips conditioned on the first frame's CLIP
    embedding and on fps. Only the temporal layers and the fps embedding train; every spatial weight stays D's. Why:
    with a few clips a step, spatial layers that train too forget the shapes and colours D learned from many images."""
    name = "decoder_video"
    frame_correlation = FRAME_NOISE_CORRELATION
    frames = 16

    def build(self):
        self.clip, _ = load_clip(self.root)
        self.model = make_decoder()
        if not self.args.resume:  # a resumed D^t loads every weight from its checkpoint or its exported file
            load_ema(self.root, "decoder", self.model).train()
            fresh_temporal_layers(self.model)

    def load(self):
        super().load()
        self.take_spatial_weights()

    def load_exported(self):
        """The exported D^t holds its temporal convolutions blended (recipe.TEMPORAL_CONV_BLEND): training resumes from
        the trained kernels, so the blends its manifest records are undone (1/α)."""
        info = super().load_exported()
        alpha, motion_alpha = exported_blends()
        for m in (self.model, self.ema.model):
            blend_temporal_convs(m, 1 / alpha, 1 / motion_alpha)
        self.take_spatial_weights()
        return info

    def trainable(self):
        return {id(p) for p in self.model.temporal_parameters()} | {id(p) for p in self.model.fps_mlp.parameters()}

    def take_spatial_weights(self):
        """After a resume, every frozen (spatial) weight comes from D's current EMA: D^t's spatial layers are D's by
        definition, so a D trained on since D^t last ran carries over, and only the temporal layers keep D^t's own."""
        dec = load_ema(self.root, "decoder", make_decoder()).state_dict()
        trainable = self.trainable()
        frozen = [n for n, p in self.model.named_parameters() if id(p) not in trainable]
        changed = sum(not torch.equal(self.ema.model.state_dict()[n].cpu(), dec[n]) for n in frozen)
        for model in (self.model, self.ema.model):
            state = model.state_dict()
            state.update({n: dec[n] for n in frozen})
            model.load_state_dict(state)
        print(f"[{self.name}] spatial weights from D's EMA ({changed} of {len(frozen)} differed)", flush=True)

    def data(self, step, progress):
        rng = self.rng(step)
        fps = [fps_for(progress, rng) for _ in range(self.batch)]
        clips = videos(self.world, 30_000_000 + step * self.batch, self.frames, fps)
        v = np.stack([clip for clip, _, _, _ in clips])
        still = np.stack([still_decoy(clip, scene) for clip, _, scene, _ in clips])
        return torch.from_numpy(v), torch.tensor(fps), torch.from_numpy(still)

    def loss(self, batch):
        v, fps, still = batch
        n = v.shape[0]
        v = v.to(self.device)
        with torch.no_grad():
            emb = self.clip.image(v[:, :, 0]) * self.keep(n, EMBED_DROPOUT)[:, None]
        return diffusion_loss(self.model, v, self.gen, OFFSET_NOISE, self.frame_correlation, GENERATIVE_T_POWER,
                              decoy=still, decoy_from=torch.full((n,), STILL_DECOY_T), decoy_share=STILL_DECOY_SHARE,
                              temporal_weight=TEMPORAL_ERROR_WEIGHT, image_embed=emb, fps=fps)
