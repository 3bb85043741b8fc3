"""BM25 over the chunks (bm25s builds it), with a stemming tokenizer shared by indexing and querying.

Queries do not import bm25s (it imports scipy: 0.2 s of every `ask`): its saved score matrix
(CSC arrays, memory-mapped) is read and summed here exactly as bm25s sums it."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    """bm25s's English list, read from its module file without importing the package (and scipy)."""
    import importlib.util

    spec = importlib.util.find_spec("bm25s")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "stopwords.py"
        if path.is_file():
            module_spec = importlib.util.spec_from_file_location("_assistant_bm25s_stopwords", path)
            if module_spec is None or module_spec.loader is None:
                break
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            return frozenset(module.STOPWORDS_EN)
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    words = [w.replace("’", "'").split("'")[0] for w in _WORD.findall(text.lower())]
    stop = _stopwords()
    return _stemmer().stemWords([w for w in words if w and w not in stop])


class BM25Index:
    def __init__(self, model=None, *, csc: tuple | None = None, vocab: dict | None = None, num_docs: int = 0):
        self._model = model  # a bm25s.BM25 when built here or when the saved method needs bm25s
        self._csc = csc  # (data, indices, indptr) of the saved token x document score matrix
        self._vocab = vocab if vocab is not None else (model.vocab_dict if model is not None else {})
        self._num_docs = num_docs if model is None else int(model.scores["num_docs"])

    @classmethod
    def build(cls, texts: list[str]) -> "BM25Index":
        import bm25s

        model = bm25s.BM25()
        model.index([tokenize(t) or [""] for t in texts], show_progress=False)
        return cls(model)

    def save(self, folder: Path) -> None:
        self._model.save(str(folder), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        folder = Path(folder)
        params = json.loads((folder / "params.index.json").read_text())
        if (folder / "nonoccurrence_array.index.npy").exists() or params.get("method") not in ("lucene", "robertson", "atire"):
            import bm25s  # variants that add scores for absent terms: bm25s itself scores them

            return cls(bm25s.BM25.load(str(folder), allow_pickle=False))
        csc = tuple(np.load(folder / f"{name}.csc.index.npy", mmap_mode="r", allow_pickle=False)
                    for name in ("data", "indices", "indptr"))
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        return cls(csc=csc, vocab=vocab, num_docs=int(params["num_docs"]))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk, in index order."""
        vocab = self._vocab
        tokens = [t for t in tokenize(query) if t in vocab]
        if not tokens:
            return np.zeros(self._num_docs, dtype=np.float32)
        if self._model is not None:
            return np.asarray(self._model.get_scores(tokens), dtype=np.float32)
        assert self._csc is not None  # loaded from its saved arrays when there is no bm25s model
        data, indices, indptr = self._csc
        scores = np.zeros(self._num_docs, dtype=np.float32)
        for token_id in (vocab[t] for t in tokens):  # in query order, as bm25s adds them
            start, end = int(indptr[token_id]), int(indptr[token_id + 1])
            np.add.at(scores, indices[start:end], data[start:end])
        return scores
