"""CLIP: text and image towers, contrastive on image-caption pairs."""
import torch

from .. import world as W
from ..checkpoints import load_tokenizer
from ..clip import CLIP
from ..data import image_batch
from ..recipe import E
from .base import Stage


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
