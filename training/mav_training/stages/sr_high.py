"""SR_h: 256² → 768² per frame, trained on 96×96 crops of 768-px renders with their 256-px twins; its head's fixed
3-px pattern is measured after training (phase_bias.py) and folded in on export."""
from .. import phase_bias
from ..data import frame_crops
from ..losses import augmented, diffusion_loss
from ..recipe import make_sr_high
from .base import Stage


class SrHighStage(Stage):
    name = "sr_high"
    crop = 96  # no attention, so what it learns on crops holds on whole frames

    def build(self):
        self.model = make_sr_high()

    def data(self, step, progress):
        return frame_crops(self.world, 60_000_000 + step * self.batch, self.batch, self.crop, self.rng(step))

    def loss(self, batch):
        hi, lo = batch
        return diffusion_loss(self.model, hi, self.gen, cond=augmented(lo, self.gen))

    def calibration(self):
        return phase_bias.calibration(self)
