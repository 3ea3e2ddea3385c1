"""P: the diffusion prior from CLIP's text embedding and tokens to its image embedding × √E, CLIP frozen."""
import torch
import torch.nn.functional as F

from ..checkpoints import load_clip
from ..data import image_batch
from ..losses import noisy
from ..prior import DiffusionPrior, image_embed_scale
from ..recipe import E
from .base import Stage

CONDITION_DROPOUT = 0.1  # the unconditional branch classifier-free guidance needs


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
        keep = self.keep(n, CONDITION_DROPOUT)
        te = te * keep[:, None]
        tt = tt * keep[:, None, None]
        x_t, t, _ = noisy(target, self.gen)
        pred = self.model(x_t, t, te, tt)
        return F.mse_loss(pred, target)
