"""BM25 over the chunks, with a stemming tokenizer shared by indexing and querying.

The score matrix is bm25s's (method "lucene", k1 1.5, b 0.75), computed here with the same float
operations, so scores are bit-identical to `bm25s.BM25().index(...)` (tested), and saved in
bm25s's file layout (CSC arrays, vocab, params). Queries do not import bm25s (it imports scipy:
0.2 s of every `ask`): the CSC arrays are memory-mapped and summed in query-term order, as bm25s
sums them.

Updates do not re-tokenize the corpus: beside the score matrix each index keeps every chunk's
term counts (`rows.*.npy`, CSR by chunk: term ids and counts). An update keeps the rows of the
chunks that stay, tokenizes only the new chunks, and recomputes the scores (which depend on the
corpus size, the average chunk length and each term's document frequency, so every value can
change) from those counts with numpy: seconds at a million chunks, against minutes of
tokenizing. The result equals a build from scratch over the same chunks in the same order."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
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


K1 = 1.5  # bm25s's defaults; an index records them in params.index.json
B = 0.75
DELTA = 0.5  # unused by "lucene"; bm25s writes it
ROW_FILES = ("rows.indptr.npy", "rows.terms.npy", "rows.counts.npy")


class BM25Index:
    def __init__(self, model=None, *, csc: tuple | None = None, vocab: dict | None = None, num_docs: int = 0,
                 rows: tuple | None = None):
        self._model = model  # a bm25s.BM25 when the saved method needs bm25s (old variants)
        self._csc = csc  # (data, indices, indptr) of the token x document score matrix
        self._vocab = vocab if vocab is not None else (model.vocab_dict if model is not None else {})
        self._num_docs = num_docs if model is None else int(model.scores["num_docs"])
        self._rows = rows  # (indptr, term ids, counts): each chunk's terms, CSR; None in old indexes

    @property
    def num_docs(self) -> int:
        return self._num_docs

    @property
    def has_rows(self) -> bool:
        """Whether the per-chunk term counts are stored (indexes written before them lack them)."""
        return self._rows is not None

    @classmethod
    def build(cls, texts: Sequence[str]) -> "BM25Index":
        return cls.update(None, np.zeros(0, np.int64), texts)

    @classmethod
    def update(cls, old: "BM25Index | None", kept_rows: np.ndarray, new_texts: Sequence[str]) -> "BM25Index":
        """The index over old's chunks `kept_rows` (in that order) followed by `new_texts`; only the
        new texts are tokenized. `old` must have its rows (`has_rows`) unless `kept_rows` is empty."""
        kept_rows = np.asarray(kept_rows, dtype=np.int64)
        vocab: dict[str, int] = {}
        indptr = np.zeros(1, np.int64)
        terms = np.zeros(0, np.int32)
        counts = np.zeros(0, np.int32)
        if old is not None and len(kept_rows):
            if old._rows is None:
                raise ValueError("the old BM25 index has no stored term counts")
            vocab = dict(old._vocab)
            indptr, terms, counts = _take_rows(*old._rows, kept_rows)
        new_indptr, new_terms, new_counts = _count_terms(new_texts, vocab)
        indptr = np.concatenate([indptr, indptr[-1] + new_indptr[1:]])
        terms = np.concatenate([terms, new_terms])
        counts = np.concatenate([counts, new_counts])
        vocab, terms = _compact(vocab, terms)
        csc = _score_matrix(indptr, terms, counts, len(vocab))
        return cls(csc=csc, vocab=vocab, num_docs=len(indptr) - 1, rows=(indptr, terms, counts))

    def save(self, folder: Path) -> None:
        if self._csc is None or self._rows is None:
            raise ValueError("only an index built here can be saved")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in zip(("data", "indices", "indptr"), self._csc):
            np.save(folder / f"{name}.csc.index.npy", np.asarray(array), allow_pickle=False)
        for name, array in zip(ROW_FILES, self._rows):
            np.save(folder / name, np.asarray(array), allow_pickle=False)
        (folder / "vocab.index.json").write_text(json.dumps(self._vocab, ensure_ascii=False), encoding="utf-8")
        params = {"k1": K1, "b": B, "delta": DELTA, "method": "lucene", "idf_method": "lucene",
                  "dtype": "float32", "int_dtype": "int32", "num_docs": self._num_docs, "version": "assistant",
                  "backend": "numpy"}
        (folder / "params.index.json").write_text(json.dumps(params, indent=1), encoding="utf-8")

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
        rows = None
        if all((folder / name).is_file() for name in ROW_FILES):
            rows = tuple(np.load(folder / name, mmap_mode="r", allow_pickle=False) for name in ROW_FILES)
        return cls(csc=csc, vocab=vocab, num_docs=int(params["num_docs"]), rows=rows)

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


def _count_terms(texts: Sequence[str], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each text's distinct terms and their counts (CSR), new terms added to `vocab`. A text without
    a term counts one empty-string term, as bm25s indexes it (so its length is 1)."""
    indptr = np.zeros(len(texts) + 1, np.int64)
    terms: list[int] = []
    counts: list[int] = []
    for i, text in enumerate(texts):
        counter = Counter(tokenize(text) or [""])
        for term, count in counter.items():
            terms.append(vocab.setdefault(term, len(vocab)))
            counts.append(count)
        indptr[i + 1] = len(terms)
    return indptr, np.asarray(terms, np.int32), np.asarray(counts, np.int32)


def _take_rows(indptr, terms, counts, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR rows `rows` of (indptr, terms, counts), in that order."""
    indptr = np.asarray(indptr)
    starts, ends = indptr[rows], indptr[rows + 1]
    lengths = ends - starts
    new_indptr = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(lengths, out=new_indptr[1:])
    positions = np.arange(new_indptr[-1], dtype=np.int64) + np.repeat(starts - new_indptr[:-1], lengths)
    return new_indptr, np.asarray(terms)[positions], np.asarray(counts)[positions]


def _compact(vocab: dict[str, int], terms: np.ndarray) -> tuple[dict[str, int], np.ndarray]:
    """Terms no chunk holds any more are dropped from the vocabulary (ids renumbered, order kept)."""
    present = np.bincount(terms, minlength=len(vocab)) > 0
    if present.all():
        return vocab, terms
    new_id = np.cumsum(present, dtype=np.int64) - 1
    kept = {t: int(new_id[i]) for t, i in vocab.items() if present[i]}
    return kept, new_id[terms].astype(np.int32)


def _score_matrix(indptr: np.ndarray, terms: np.ndarray, counts: np.ndarray, n_vocab: int) -> tuple:
    """bm25s's lucene scores as CSC (data float32, indices int32, indptr int64), from term counts.
    Every operation mirrors bm25s.scoring in type and order (float64 with a float32 idf and a
    float32 result), so the values are bit-identical."""
    n_docs = len(indptr) - 1
    row_lengths = np.diff(indptr)
    doc = np.repeat(np.arange(n_docs, dtype=np.int32), row_lengths)
    doc_len = np.bincount(doc, weights=counts, minlength=n_docs).astype(np.int64) if n_docs else np.zeros(0, np.int64)
    avg_doc_len = doc_len.mean() if n_docs else np.float64(0.0)
    df = np.bincount(terms, minlength=n_vocab)
    values, inverse = np.unique(df, return_inverse=True)
    # math.log, as bm25s: numpy's vectorised log may differ from it in the last bit
    idf_of = np.array([math.log(1 + (n_docs - int(d) + 0.5) / (int(d) + 0.5)) if d else 0.0 for d in values])
    idf = idf_of.astype(np.float32)[inverse.reshape(-1)]
    tf = counts.astype(np.float32).astype(np.float64)
    norm = K1 * ((1 - B) + B * doc_len.astype(np.float64) / avg_doc_len)  # per document, as bm25s
    scores = (idf[terms].astype(np.float64) * (tf / (norm[doc] + tf))).astype(np.float32)
    order = np.argsort(terms, kind="stable")  # by term, documents ascending within a term
    csc_indptr = np.zeros(n_vocab + 1, np.int64)
    np.cumsum(df, out=csc_indptr[1:])
    return scores[order], doc[order], csc_indptr
