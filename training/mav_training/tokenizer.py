"""A small BPE tokenizer trained on the captions, written as a Hugging Face `tokenizer.json`.

Format: normalizer Lowercase, pre-tokenizer Whitespace (regex \\w+|[^\\w\\s]+), model BPE with end-of-word
suffix "</w>" and unk token "<unk>"; no post-processor, padding or truncation. Special tokens <pad>=0, <bos>=1,
<eos>=2, <unk>=3. The Java side (DJL HuggingFaceTokenizer) encodes without special tokens and then builds
[bos] + tokens + [eos] + pads to 32; `encode` here does exactly the same, in pure Python.

Run: python3 -m mav_training.tokenizer --out DIR
"""
import argparse
import collections
import json
import os
import re
import string

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
PAD, BOS, EOS, UNK = 0, 1, 2, 3
MAX_LENGTH = 32
SUFFIX = "</w>"
_PRETOK = re.compile(r"\w+|[^\w\s]+")


class PromptTooLongError(ValueError):
    """A prompt with more than MAX_LENGTH - 2 tokens."""


def pre_tokenize(text):
    return _PRETOK.findall(text.lower())


def train_bpe(corpus, vocab_size=400):
    """Classic BPE on words with an end-of-word suffix; the base alphabet covers a-z, 0-9 and ASCII punctuation."""
    words = collections.Counter(w for line in corpus for w in pre_tokenize(line))
    alphabet = sorted(set(string.ascii_lowercase + string.digits + string.punctuation))
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    for ch in alphabet:
        vocab.setdefault(ch + SUFFIX, len(vocab))
    splits = {w: list(w[:-1]) + [w[-1] + SUFFIX] for w in words}
    merges = []
    while len(vocab) < vocab_size:
        pairs = collections.Counter()
        for w, n in words.items():
            s = splits[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append((a, b))
        vocab.setdefault(a + b, len(vocab))
        for w in words:
            s = splits[w]
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            splits[w] = out
    return vocab, merges


def to_json(vocab, merges):
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(SPECIALS)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": {"type": "BPEDecoder", "suffix": SUFFIX},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": SUFFIX, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


class Tokenizer:
    """Pure-Python twin of the Hugging Face tokenizer described by a tokenizer.json written by this module."""

    def __init__(self, spec):
        model = spec["model"]
        self.vocab = model["vocab"]
        self.inverse = {i: t for t, i in self.vocab.items()}
        self.ranks = {tuple(m.split(" ")): r for r, m in enumerate(model["merges"])}
        self.added = {t["content"]: t["id"] for t in spec["added_tokens"]}
        self._added_re = re.compile("|".join(re.escape(t) for t in sorted(self.added, key=len, reverse=True)))

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def __len__(self):
        return len(self.vocab)

    def _word(self, word):
        syms = [c + SUFFIX if i == len(word) - 1 else c for i, c in enumerate(word)]
        syms = [s if s in self.vocab else None for s in syms]  # None = <unk>, never merged
        while True:
            best, at = None, -1
            for i in range(len(syms) - 1):
                if syms[i] is None or syms[i + 1] is None:
                    continue
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best):
                    best, at = r, i
            if best is None:
                break
            # merge every occurrence of this pair, left to right, as HF does for the lowest rank
            pair = (syms[at], syms[at + 1])
            i, out = 0, []
            while i < len(syms):
                if i + 1 < len(syms) and (syms[i], syms[i + 1]) == pair:
                    out.append(pair[0] + pair[1])
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            syms = out
        return [UNK if s is None else self.vocab[s] for s in syms]

    def tokens(self, text):
        """Ids without special tokens (special tokens typed in the text are still recognised, as in HF)."""
        ids, pos = [], 0
        for m in list(self._added_re.finditer(text)) + [None]:
            chunk = text[pos:m.start()] if m else text[pos:]
            for w in pre_tokenize(chunk):
                ids.extend(self._word(w))
            if m:
                ids.append(self.added[m.group(0)])
                pos = m.end()
        return ids

    def encode(self, text, max_length=MAX_LENGTH):
        """[bos] + tokens + [eos] padded with <pad> to max_length; more than max_length - 2 tokens is an error."""
        toks = self.tokens(text)
        if len(toks) > max_length - 2:
            raise PromptTooLongError(f"prompt has {len(toks)} tokens, at most {max_length - 2} allowed: '{text}'")
        ids = [BOS] + toks + [EOS]
        return ids + [PAD] * (max_length - len(ids))

    def decode(self, ids):
        words, cur = [], ""
        for i in ids:
            if i in (PAD, BOS, EOS):
                continue
            t = self.inverse.get(i, "<unk>")
            if t.endswith(SUFFIX):
                words.append(cur + t[:-len(SUFFIX)])
                cur = ""
            else:
                cur += t
        if cur:
            words.append(cur)
        return " ".join(words)


FIXTURE_TEXTS = [
    "a red circle on a black background", "A Blue Fish Swimming LEFT", "a green arrow pointing up!",
    "an arrow pointing down, yellow", "purple star", "a zebra galloping", "orange square on gray...",
    "a yellow triangle that is yellow", "  a  white   background  ", "RED FISH facing right; 42 fish",
    "café <eos> blue",
]


def build(out_dir, seed=0, vocab_size=400, fixture=None):
    from .world import all_captions
    vocab, merges = train_bpe(all_captions(seed), vocab_size)
    spec = to_json(vocab, merges)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False, indent=1)
    tok = Tokenizer(spec)
    if fixture:
        os.makedirs(os.path.dirname(fixture), exist_ok=True)
        cases = [{"text": t, "ids": tok.encode(t)} for t in FIXTURE_TEXTS]
        with open(fixture, "w", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False, indent=1)
    return path, tok


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="checkpoints/tokenizer")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab-size", type=int, default=400)
    p.add_argument("--fixture", default=None)
    a = p.parse_args()
    path, tok = build(a.out, a.seed, a.vocab_size, a.fixture)
    print(path, len(tok), "tokens")


if __name__ == "__main__":
    main()
