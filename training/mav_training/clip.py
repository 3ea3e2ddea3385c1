"""A small CLIP: a text transformer over BPE ids (pad-masked) and a conv image encoder, trained contrastively.

Text encoder outputs `text_embed` [B, E] (unit norm; masked mean of the final token states, projected) and
`text_tokens` [B, L, E] (per-token states, zero at pad positions). The image encoder maps a 64×64 image to a unit
norm [B, E] embedding: the space the prior predicts into and the decoder is conditioned on.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import _attend, groups_for
from .tokenizer import MAX_LENGTH, PAD


class TransformerLayer(nn.Module):
    """Pre-norm transformer layer with an additive attention bias (pad masking)."""

    def __init__(self, dim, heads=4, mlp=4):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp), nn.GELU(), nn.Linear(dim * mlp, dim))

    def forward(self, x, bias=None):
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        x = x + self.proj(_attend(q, k, v, self.heads, bias))
        return x + self.mlp(self.norm2(x))


class TextEncoder(nn.Module):
    def __init__(self, vocab_size, embed_dim=64, width=128, layers=3, heads=4, max_length=MAX_LENGTH):
        super().__init__()
        self.token = nn.Embedding(vocab_size, width)
        self.pos = nn.Parameter(torch.randn(max_length, width) * 0.02)
        self.layers = nn.ModuleList([TransformerLayer(width, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.proj_tokens = nn.Linear(width, embed_dim)
        self.proj_embed = nn.Linear(width, embed_dim)

    def forward(self, input_ids):
        mask = (input_ids != PAD).float()  # b l
        x = self.token(input_ids) + self.pos[None, : input_ids.shape[1]]
        bias = ((1.0 - mask) * -1e4)[:, None, None, :]  # b 1 1 l: never attend to pads
        for layer in self.layers:
            x = layer(x, bias)
        x = self.norm(x)
        tokens = self.proj_tokens(x) * mask[:, :, None]
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        embed = F.normalize(self.proj_embed(pooled), dim=-1)
        return embed, tokens


class ImageEncoder(nn.Module):
    def __init__(self, embed_dim=64, channels=(32, 64, 128, 128)):
        super().__init__()
        layers, ch = [], 3
        for c in channels:
            layers += [nn.Conv2d(ch, c, 3, stride=2, padding=1), nn.GroupNorm(groups_for(c), c), nn.SiLU()]
            ch = c
        self.net = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(ch * 2, 256), nn.SiLU(), nn.Linear(256, embed_dim))

    def forward(self, image):
        h = self.net(image)
        h = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return F.normalize(self.head(h), dim=-1)


class CLIP(nn.Module):
    def __init__(self, vocab_size, embed_dim=64):
        super().__init__()
        self.text = TextEncoder(vocab_size, embed_dim)
        self.image = ImageEncoder(embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1/0.07)

    def loss(self, images, ids, same=None):
        """Symmetric InfoNCE; `same` [B, B] marks pairs with identical caption content as positives too."""
        ie = self.image(images)
        te, _ = self.text(ids)
        logits = self.logit_scale.exp().clamp(max=100) * ie @ te.t()
        target = torch.eye(len(ids), device=ids.device) if same is None else same.float()
        target = target / target.sum(1, keepdim=True)
        li = -(target * logits.log_softmax(1)).sum(1).mean()
        lt = -(target.t() / target.t().sum(1, keepdim=True) * logits.t().log_softmax(1)).sum(1).mean()
        return (li + lt) / 2
