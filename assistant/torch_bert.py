"""The same BERT sentence encoder as `numpy_bert`, run by torch for indexing thousands of passages.

Why not sentence-transformers: importing it (with transformers) costs ~3 s per `assistant index`
before anything is embedded, and it sorts batches by characters, not word pieces. This module
imports torch only, reads the same safetensors weights and tokenizer.json, sorts by word pieces
(less padding) and computes what BertModel + mean pooling + Normalize compute (vectors equal to
sentence-transformers' to a cosine of 0.99999+, tests/test_numpy_bert.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from assistant.numpy_bert import NumpyBertEmbedder, padded, read_safetensors


class TorchBert:
    def __init__(self, folder: Path):
        import json

        import torch

        config = json.loads((folder / "config.json").read_text())
        arrays = read_safetensors(folder / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in arrays else ""
        t = lambda name: torch.from_numpy(np.array(arrays[prefix + name]))  # noqa: E731 - a writable copy
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        self.word = t("embeddings.word_embeddings.weight")
        self.position = t("embeddings.position_embeddings.weight")
        self.token_type0 = t("embeddings.token_type_embeddings.weight")[0]
        self.embed_ln = (t("embeddings.LayerNorm.weight"), t("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            self.layers.append((
                torch.cat([t(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")]),
                torch.cat([t(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")]),
                t(p + "attention.output.dense.weight"), t(p + "attention.output.dense.bias"),
                (t(p + "attention.output.LayerNorm.weight"), t(p + "attention.output.LayerNorm.bias")),
                t(p + "intermediate.dense.weight"), t(p + "intermediate.dense.bias"),
                t(p + "output.dense.weight"), t(p + "output.dense.bias"),
                (t(p + "output.LayerNorm.weight"), t(p + "output.LayerNorm.bias")),
            ))

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            ids_t = torch.from_numpy(ids)
            mask_t = torch.from_numpy(mask).bool()
            b, n = ids.shape
            h, d = self.heads, self.dim // self.heads
            x = F.embedding(ids_t, self.word) + self.position[:n] + self.token_type0
            x = F.layer_norm(x, (self.dim,), *self.embed_ln, self.eps)
            attend = mask_t[:, None, None, :]  # padding is never attended to
            for qkv_w, qkv_b, out_w, out_b, ln1, in_w, in_b, ff_w, ff_b, ln2 in self.layers:
                qkv = F.linear(x, qkv_w, qkv_b).view(b, n, 3, h, d).permute(2, 0, 3, 1, 4)
                context = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=attend,
                                                         scale=1 / math.sqrt(d))
                context = context.transpose(1, 2).reshape(b, n, self.dim)
                x = F.layer_norm(x + F.linear(context, out_w, out_b), (self.dim,), *ln1, self.eps)
                ff = F.linear(F.gelu(F.linear(x, in_w, in_b)), ff_w, ff_b)
                x = F.layer_norm(x + ff, (self.dim,), *ln2, self.eps)
            m = mask_t.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
            pooled = F.normalize(pooled, p=2, dim=1)
            return pooled.numpy().astype(np.float32, copy=False)


class TorchBertEmbedder(NumpyBertEmbedder):
    """The numpy embedder's tokenizing, batching and interface; torch's kernels and threads."""

    engine = "torch"

    def __init__(self, folder: Path, name: str, batch_size: int = 32):
        super().__init__(folder, name, batch_size, model=TorchBert(Path(folder)))
        self._threadpools = None  # torch keeps its own threads (all cores: indexing is the only work)

    def _embed_sorted(self, ids: list[list[int]], order: list[int], out: np.ndarray) -> None:
        """Fixed batches of batch_size in word-piece order: the model's speed on large inputs."""
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            out[batch] = self._model(*padded(ids, batch))
