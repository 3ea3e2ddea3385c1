"""SR^t_l: 64² → 256² clips, trained on 64×64 crops of 256-px clips rendered with their 64-px twins; its head's fixed
4-px pattern is measured after training (phase_bias.py) and folded in on export."""
from .. import phase_bias
from ..data import clip_crops
from ..losses import augmented, diffusion_loss
from ..recipe import make_sr_low
from .base import Stage


class SrLowStage(Stage):
    name = "sr_low"
    frames = 6
    crop = 64  # no spatial attention, so what it learns on crops holds on whole frames

    def build(self):
        self.model = make_sr_low()

    def data(self, step, progress):
        return clip_crops(self.world, 50_000_000 + step * self.batch, self.batch, self.frames, self.crop,
                          self.rng(step))

    def loss(self, batch):
        hi, lo = batch
        return diffusion_loss(self.model, hi, self.gen, cond=augmented(lo, self.gen))

    def calibration(self):
        return phase_bias.calibration(self)
