"""Today's training recipe in one place: the stages in order, what each trains for, and the settings that more than
one module reads (the stages, the checkpoint loader that export and the sampler use). The reasons and the
measurements behind each value are in docs/models.md §4; their history in docs/training-log.md."""
from .unet import SpaceTimeUNet, decoder_config, interpolator_config, sr_high_config, sr_low_config

E = 64  # CLIP embedding width shared by text_encoder, prior, decoder and interpolator
SEED = 0
STAGES = ["tokenizer", "clip", "prior", "decoder", "decoder_video", "interpolator", "sr_low", "sr_high"]

# `train --stage X` without --minutes/--steps: a short run of one stage
DEFAULT_MINUTES = {"clip": 5, "prior": 16, "decoder": 25, "decoder_video": 15, "interpolator": 8, "sr_low": 7,
                   "sr_high": 6}
# `train all`: every stage trains to the step count of the shipped weights (at --batch-scale 1)
TARGET_STEPS = {"clip": 673, "prior": 2142, "decoder": 47464, "decoder_video": 29448, "interpolator": 3698,
                "sr_low": 5649, "sr_high": 10549}
BATCH = {"clip": 128, "prior": 128, "decoder": 32, "decoder_video": 4, "interpolator": 3, "sr_low": 4,
         "sr_high": 8}
LR = {"clip": 1e-3, "prior": 5e-4, "decoder": 1e-3, "decoder_video": 5e-4, "interpolator": 3e-4, "sr_low": 5e-4,
      "sr_high": 5e-4}

# the ONNX files a stage's weights go to (D and D^t are the same decoder file)
EXPORTS = {"clip": ["text_encoder", "image_encoder"], "prior": ["prior"], "decoder": ["decoder"],
           "decoder_video": ["decoder"], "interpolator": ["interpolator"], "sr_low": ["sr_low"], "sr_high": ["sr_high"]}
STAGES_OF = {"text_encoder": ["clip"], "image_encoder": ["clip"], "prior": ["prior"],
             "decoder": ["decoder", "decoder_video"], "interpolator": ["interpolator"], "sr_low": ["sr_low"],
             "sr_high": ["sr_high"]}
# each manifest's training.data
DATA = {
    "text_encoder": "synthetic image-caption pairs (64 px), contrastive; held-out pairs excluded",
    "image_encoder": "synthetic image-caption pairs (64 px), contrastive; the image tower of text_encoder's CLIP",
    "prior": "synthetic image-caption pairs → CLIP image embeddings of the frozen image encoder",
    "decoder": "stage D: 64-px images conditioned on CLIP image embeddings; stage D^t: unlabelled 16-frame clips, "
               "first-frame embedding, fps 4-30 moving from high to low; still decoys (every fish or arrow clip at "
               "t >= 500 noised from its middle frame held still), the frame-to-frame part of the error weighted 5x; "
               "only the temporal layers and the fps embedding train, the spatial layers stay D's",
    "interpolator": "unlabelled clips, 4 keyframes, frame skip 2-5, fps = keyframe fps × skip; init from the shipped "
                    "D^t, its spatial layers frozen; the loss on the frames between keyframes only",
    "sr_low": "6-frame clips rendered at 64 and 256 px, random 64×64 crops of the 256 frames, low_res noise aug",
    "sr_high": "single frames rendered at 256 and 768 px, random 96×96 crops, low_res noise aug",
}
COMMAND = "cd training && python3 -m mav_training.train --stage all"  # each manifest's training.command

# offset noise of D, D^t and ↑F: without it x_t's mean gives the background away and the embedding is ignored
OFFSET_NOISE = 0.2
# D and D^t draw t with density ∝ t: place, shape and colour are decided at high t
GENERATIVE_T_POWER = 2.0
# ρ of D^t's training noise (mixed frame noise), kept in its checkpoint record
FRAME_NOISE_CORRELATION = 0.5
# samplers of D^t start from more shared frame noise than it trained on: fewer clips jump or split between keyframes
SAMPLING_FRAME_NOISE_CORRELATION = 0.9
# export and sampling move D^t's temporal convolutions (and motion terms) this far from the identity: shape vs coherence
TEMPORAL_CONV_BLEND = 0.5
# and D^t's motion terms this far from zero: how far sampled clips move (chosen on selection seeds: motion_eval --select)
MOTION_TERM_BLEND = 0.75
# and their time scaled by (fps / 8)^−γ in sampling: D^t's speed rises with fps, the world's does not (motion_eval --select)
MOTION_FPS_EXPONENT = 0.15


def make_decoder():
    return SpaceTimeUNet(**decoder_config(E))


def make_interpolator():
    return SpaceTimeUNet(**interpolator_config(E))


def make_sr_low():
    return SpaceTimeUNet(**sr_low_config())


def make_sr_high():
    return SpaceTimeUNet(**sr_high_config())
