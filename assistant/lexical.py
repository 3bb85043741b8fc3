"""BM25 over the chunks (bm25s), with a stemming tokenizer shared by indexing and querying."""

from __future__ import annotations

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
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    words = [w.replace("’", "'").split("'")[0] for w in _WORD.findall(text.lower())]
    stop = _stopwords()
    return _stemmer().stemWords([w for w in words if w and w not in stop])


class BM25Index:
    def __init__(self, model):
        self._model = model

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
        import bm25s

        return cls(bm25s.BM25.load(str(folder), allow_pickle=False))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk, in index order."""
        vocab = self._model.vocab_dict
        tokens = [t for t in tokenize(query) if t in vocab]
        if not tokens:
            return np.zeros(self._model.scores["num_docs"], dtype=np.float32)
        return np.asarray(self._model.get_scores(tokens), dtype=np.float32)
