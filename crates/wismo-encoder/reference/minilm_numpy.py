#!/usr/bin/env python3
"""An independent re-implementation of all-MiniLM-L6-v2 sentence embeddings
in plain numpy: its own safetensors reader, its own BERT WordPiece tokenizer
(from the vocabulary in tokenizer.json) and its own BERT forward pass, then
mean pooling over the real tokens and L2 normalisation, as sentence-
transformers does.

It was used once to produce the reference values that tests/encoder.rs
(`matches_the_numpy_reference`) checks the Rust encoder against; neither the
tests nor CI run it. To run it again (needs numpy; English text only):

    python3 crates/wismo-encoder/reference/minilm_numpy.py target/encoder

It prints, for each sentence of SENTENCES, the first 8 components of its
embedding, and the cosine similarity of each pair in PAIRS.
"""

import json
import math
import struct
import sys
import unicodedata

import numpy as np

SENTENCES = [
    "where is my order?",
    "has my package shipped yet?",
    "what is your return policy for shoes?",
    "Do you send parcels to Mexico?",
    "We deliver to most countries outside the US.",
    "our stores open at 9am",
    "hi",
]
PAIRS = [(0, 1), (0, 2), (3, 4), (3, 5), (0, 6)]


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        start, end = meta["data_offsets"]
        tensors[name] = np.frombuffer(data[base + start : base + end], dtype="<f4").reshape(meta["shape"])
    return tensors


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def tokenize(text, vocab):
    # BertNormalizer (English subset): drop control chars, lowercase, strip accents.
    text = "".join(" " if ch.isspace() else ch for ch in text if unicodedata.category(ch) != "Cc" or ch.isspace())
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    # BertPreTokenizer: split on whitespace, each punctuation char on its own.
    words = []
    for chunk in text.split():
        cur = ""
        for ch in chunk:
            if is_punct(ch):
                if cur:
                    words.append(cur)
                words.append(ch)
                cur = ""
            else:
                cur += ch
        if cur:
            words.append(cur)
    # WordPiece, greedy longest match first.
    ids = [vocab["[CLS]"]]
    for word in words:
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            piece = None
            while start < end:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in vocab:
                    piece = vocab[sub]
                    break
                end -= 1
            if piece is None:
                pieces = [vocab["[UNK]"]]
                break
            pieces.append(piece)
            start = end
        ids.extend(pieces)
    ids = ids[:255]
    ids.append(vocab["[SEP]"])
    return ids


def layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def linear(x, t, name):
    return x @ t[name + ".weight"].T + t[name + ".bias"]


erf = np.vectorize(math.erf)


def embed(ids, t, layers=6, heads=12):
    x = t["embeddings.word_embeddings.weight"][ids].astype(np.float64)
    x = x + t["embeddings.position_embeddings.weight"][: len(ids)]
    x = x + t["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    n, d = x.shape
    hd = d // heads
    for i in range(layers):
        p = f"encoder.layer.{i}."
        q = linear(x, t, p + "attention.self.query").reshape(n, heads, hd).transpose(1, 0, 2)
        k = linear(x, t, p + "attention.self.key").reshape(n, heads, hd).transpose(1, 0, 2)
        v = linear(x, t, p + "attention.self.value").reshape(n, heads, hd).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, d)
        a = linear(a, t, p + "attention.output.dense")
        x = layer_norm(a + x, t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"])
        h = linear(x, t, p + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        h = linear(h, t, p + "output.dense")
        x = layer_norm(h + x, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def main():
    d = sys.argv[1]
    t = load_safetensors(f"{d}/model.safetensors")
    vocab = json.load(open(f"{d}/tokenizer.json"))["model"]["vocab"]
    vecs = []
    for s in SENTENCES:
        ids = tokenize(s, vocab)
        v = embed(ids, t)
        vecs.append(v)
        print(json.dumps(s), "ids", ids)
        print("   first8", "[" + ", ".join(f"{x:.5f}" for x in v[:8]) + "]")
    for a, b in PAIRS:
        print(f"cos({a},{b}) = {float(vecs[a] @ vecs[b]):.5f}")


if __name__ == "__main__":
    main()
