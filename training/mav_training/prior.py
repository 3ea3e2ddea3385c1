"""DALL-E 2 style diffusion prior: text → CLIP image embedding.

A transformer over [text tokens (L), text embed, time embed, noisy image embed, learned query]; the query's output
is the predicted clean image embedding (prediction_type "sample").

The diffusion runs on the unit CLIP embedding scaled by √E (image_embed_scale), as DALL-E 2's prior does: entries
of unit variance, so x_t's signal-to-noise ratio is the schedule's. Diffusing the unit vector itself (entries ~1/√E)
buries it under the noise for all but the last few percent of t; a prior trained so learns to ignore x_t and
returns the caption's mean embedding whatever the noise (8 seeds gave cosine 1.0000 to each other), an average of
every position and size that the decoder reads facing from at chance. The output is the normalised direction
times √E; divide by √E (or normalise) to get the unit embedding the decoder takes. Pad tokens are masked. Training
drops the condition (zero text_embed AND text_tokens, as the Java side does for the unconditional branch) so
classifier-free guidance works.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .clip import TransformerLayer
from .layers import sinusoidal


def image_embed_scale(embed_dim):
    return embed_dim ** 0.5


class DiffusionPrior(nn.Module):
    def __init__(self, embed_dim=64, width=128, layers=4, heads=4, max_length=32):
        super().__init__()
        self.embed_dim = embed_dim
        self.in_tokens = nn.Linear(embed_dim, width)
        self.in_text = nn.Linear(embed_dim, width)
        self.in_image = nn.Linear(embed_dim, width)
        self.time_mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.query = nn.Parameter(torch.randn(width) * 0.02)
        self.pos = nn.Parameter(torch.randn(max_length + 4, width) * 0.02)
        self.layers = nn.ModuleList([TransformerLayer(width, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, embed_dim)

    def forward(self, noisy_image_embed, timestep, text_embed, text_tokens):
        b, l, _ = text_tokens.shape
        width = self.query.shape[0]
        tok_mask = (text_tokens.abs().sum(-1) > 0).float()  # pads (and the dropped condition) are zero
        seq = torch.cat([
            self.in_tokens(text_tokens),
            self.in_text(text_embed)[:, None],
            self.time_mlp(sinusoidal(timestep.float(), width))[:, None],
            self.in_image(noisy_image_embed)[:, None],
            self.query[None, None].expand(b, 1, width),
        ], dim=1) + self.pos[None, : l + 4]
        mask = torch.cat([tok_mask, torch.ones_like(tok_mask[:, :4])], dim=1)
        bias = ((1.0 - mask) * -1e4)[:, None, None, :]
        for layer in self.layers:
            seq = layer(seq, bias)
        return F.normalize(self.out(self.norm(seq[:, -1])), dim=-1) * image_embed_scale(self.embed_dim)
