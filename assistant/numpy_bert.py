"""A sentence-transformers BERT model (Transformer → mean pooling → L2 normalise) run in numpy.

Why: importing torch and sentence-transformers and loading the model costs ~5 s, more than a whole
`ask` should take. The query path (the question, the extractive backend's and the answer checks'
sentences) embeds a few dozen short texts; numpy's BLAS does that in tens of milliseconds, from the
same safetensors weights (memory-mapped, nothing converted or downloaded) and the same tokenizer.json
(the Rust `tokenizers` library, already installed with transformers). Vectors match the torch model's
to a cosine of 0.99999+ (tests/test_numpy_bert.py). Indexing keeps sentence-transformers (torch),
which is faster on large batches.

Only the architecture the packaged MiniLM uses is supported: absolute positions, GELU, mean
pooling, normalised output; `supports()` says whether a folder qualifies, else the torch embedder is used.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}


def supports(folder: Path) -> bool:
    """A sentence-transformers folder this module can run exactly: BERT + mean pooling + Normalize."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
        config = json.loads((folder / "config.json").read_text())
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith(".Pooling"))
        pooling = json.loads((folder / pooling_dir / "config.json").read_text())
    except (OSError, ValueError, KeyError, StopIteration, TypeError):
        return False
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    return (
        kinds == ["Transformer", "Pooling", "Normalize"]
        and config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and pooling.get("pooling_mode_mean_tokens") is True
        and not any(pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                             "pooling_mode_mean_sqrt_len_tokens"))
        and (folder / "model.safetensors").is_file()
        and (folder / "tokenizer.json").is_file()
    )


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors as read-only arrays over a memory map of the file (no copy, no torch)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"])
    return tensors


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's "gelu", in place on a float32 array. numpy has no erf: it is
    computed to 1.5e-7 by Abramowitz & Stegun 7.1.26, with every step in place (this runs on
    tokens x 1536 values per layer)."""
    z = x * np.float32(1 / math.sqrt(2))
    np.abs(z, out=z)
    t = z * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(z, out=z)
    np.minimum(z, 30.0, out=z)  # exp(-30) is nought here; smaller would be denormal, and slow
    np.negative(z, out=z)
    np.exp(z, out=z)
    z *= poly  # 1 - erf(|x| / sqrt 2)
    np.subtract(1.0, z, out=z)
    np.copysign(z, x, out=z)  # erf(x / sqrt 2)
    z += 1.0
    x *= z
    x *= 0.5
    return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    x = x - mean
    var = np.mean(np.square(x), axis=-1, keepdims=True)
    x *= 1.0 / np.sqrt(var + eps)
    x *= weight
    x += bias
    return x


def padded(ids: list[list[int]], batch: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, attention mask) of the batch's texts, padded to its first (longest) text."""
    width = len(ids[batch[0]])
    tokens = np.zeros((len(batch), width), dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, i in enumerate(batch):
        tokens[row, :len(ids[i])] = ids[i]
        mask[row, :len(ids[i])] = 1
    return tokens, mask


def query_threads() -> int:
    """BLAS threads for the query path: the cores that are idle now (load average), at least one.
    OpenBLAS threads spin-wait, and on a busy machine a second thread made a 1 s `ask` take 10 s
    (measured); on an idle 2-core machine two threads save ~0.3 s. ASSISTANT_QUERY_THREADS overrides."""
    if os.environ.get("ASSISTANT_QUERY_THREADS"):
        return max(1, int(os.environ["ASSISTANT_QUERY_THREADS"]))
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        return 1
    return max(1, min(cores, math.ceil(cores - busy + 0.5)))  # half a core idle is worth a thread


class NumpyBert:
    """The encoder: token ids and mask → mean-pooled, normalised sentence vectors."""

    def __init__(self, folder: Path):
        config = json.loads((folder / "config.json").read_text())
        w = read_safetensors(folder / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
        g = lambda name: w[prefix + name]  # noqa: E731
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        self.word = g("embeddings.word_embeddings.weight")
        self.position = g("embeddings.position_embeddings.weight")
        self.token_type0 = np.asarray(g("embeddings.token_type_embeddings.weight")[0])
        self.embed_ln = (g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate([g(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")])
            qkv_b = np.concatenate([g(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")])
            self.layers.append((
                qkv_w.T, qkv_b,
                g(p + "attention.output.dense.weight").T, g(p + "attention.output.dense.bias"),
                (g(p + "attention.output.LayerNorm.weight"), g(p + "attention.output.LayerNorm.bias")),
                g(p + "intermediate.dense.weight").T, g(p + "intermediate.dense.bias"),
                g(p + "output.dense.weight").T, g(p + "output.dense.bias"),
                (g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias")),
            ))

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        b, n = ids.shape
        h, d = self.heads, self.dim // self.heads
        x = self.word[ids] + self.position[:n] + self.token_type0
        x = _layer_norm(x, *self.embed_ln, self.eps)
        # Padding may not be attended to: a large negative added to its scores.
        bias = ((1.0 - mask.astype(np.float32)) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1 / math.sqrt(d))
        for qkv_w, qkv_b, out_w, out_b, ln1, in_w, in_b, ff_w, ff_b, ln2 in self.layers:
            qkv = x @ qkv_w
            qkv += qkv_b
            qkv = qkv.reshape(b, n, 3, h, d).transpose(2, 0, 3, 1, 4)  # (3, b, h, n, d)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= scale
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(b, n, h * d)
            attended = context @ out_w
            attended += out_b
            attended += x
            x = _layer_norm(attended, *ln1, self.eps)
            inner = x @ in_w
            inner += in_b
            ff = _gelu(inner) @ ff_w
            ff += ff_b
            ff += x
            x = _layer_norm(ff, *ln2, self.eps)
        m = mask.astype(np.float32)[:, :, None]
        pooled = (x * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32)


class NumpyBertEmbedder:
    """The `Embedder` interface over `NumpyBert` and the model's own tokenizer.json."""

    engine = "numpy"

    def __init__(self, folder: Path, name: str, batch_size: int = 32, model=None):
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.model_id = name
        self.batch_size = max(1, batch_size)
        self.max_seq_length = int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]) \
            if (folder / "sentence_bert_config.json").is_file() else 256
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        # A model that embeds questions and passages with different prefixes (E5: "query: ", "passage: "),
        # other special tokens, or a character map applied before its tokenizer says so in text.json.
        text = json.loads((folder / "text.json").read_text()) if (folder / "text.json").is_file() else {}
        self.query_prefix: str = text.get("query_prefix", "")
        self.passage_prefix: str = text.get("passage_prefix", "")
        self._charmap = str.maketrans(text["charmap"]) if text.get("charmap") else None
        first, last = text.get("first_token", "[CLS]"), text.get("last_token", "[SEP]")
        cls, sep = self._tokenizer.token_to_id(first), self._tokenizer.token_to_id(last)
        if cls is None or sep is None:
            from assistant.errors import ModelError

            raise ModelError(f"{folder}/tokenizer.json has no {first}/{last} tokens: not a BERT tokenizer")
        self._cls: int = cls
        self._sep: int = sep
        self._model = model if model is not None else NumpyBert(folder)
        self.dim = self._model.dim
        self.threads = query_threads()
        try:
            from threadpoolctl import ThreadpoolController

            self._threadpools = ThreadpoolController()
        except ImportError:
            self._threadpools = None

    def _prepared(self, texts: Sequence[str], prefix: str = "") -> list[str]:
        if self._charmap is None:
            return [prefix + t for t in texts] if prefix else list(texts)
        return [_SPACES.sub(" ", (prefix + t).translate(self._charmap)) for t in texts]

    def _ids(self, texts: Sequence[str], prefix: str = "") -> list[list[int]]:
        """[CLS] pieces [SEP], cut to max_seq_length as sentence-transformers cuts them."""
        pieces = self._tokenizer.encode_batch(self._prepared(texts, prefix), add_special_tokens=False)
        room = self.max_seq_length - 2
        return [[self._cls, *e.ids[:room], self._sep] for e in pieces]

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Questions: as passages, with the model's query prefix (E5's "query: ") instead."""
        return self.embed(texts, prefix=self.query_prefix)

    def embed(self, texts: Sequence[str], *, progress: bool = False, prefix: str | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = self._ids(texts, self.passage_prefix if prefix is None else prefix)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # similar lengths pad little
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        limit = (self._threadpools.limit(limits=self.threads, user_api="blas") if self._threadpools
                 else contextlib.nullcontext())
        with limit:
            self._embed_sorted(ids, order, out)
        return out

    def _embed_sorted(self, ids: list[list[int]], order: list[int], out: np.ndarray) -> None:
        """Longest first; a batch ends at batch_size texts or when a text is under 3/4 of the batch's
        longest, so that padding (compute spent on nothing) stays small: 30 answer sentences of
        14-72 pieces cost 2,160 padded positions in one batch, ~1,000 this way."""
        batches: list[list[int]] = []
        for i in order:
            if batches and len(batches[-1]) < self.batch_size and 4 * len(ids[i]) >= 3 * len(ids[batches[-1][0]]):
                batches[-1].append(i)
            else:
                batches.append([i])
        for batch in batches:
            out[batch] = self._model(*padded(ids, batch))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(self._prepared(texts), add_special_tokens=False)]


_SPACES = re.compile(" {2,}")
