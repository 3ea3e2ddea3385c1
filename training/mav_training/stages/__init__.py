"""One module per training stage, in the order `train all` runs them (the tokenizer is built by tokenizer.build)."""
from .clip import ClipStage
from .decoder import DecoderStage, DecoderVideoStage
from .interpolator import InterpolatorStage
from .prior import PriorStage
from .sr_high import SrHighStage
from .sr_low import SrLowStage

STAGE_CLASSES = {c.name: c for c in (ClipStage, PriorStage, DecoderStage, DecoderVideoStage, InterpolatorStage,
                                     SrLowStage, SrHighStage)}
