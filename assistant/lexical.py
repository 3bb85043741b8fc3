"""BM25 over the chunks, with a stemming tokenizer shared by indexing and querying.

The score matrix is bm25s's (method "lucene", k1 1.5, b 0.75), computed here with the same float
operations, so scores are bit-identical to `bm25s.BM25().index(...)` (tested), and saved in
bm25s's file layout (CSC arrays, vocab, params). Queries do not import bm25s (it imports scipy:
0.2 s of every `ask`): the CSC arrays are memory-mapped and summed in query-term order, as bm25s
sums them.

Updates do not re-tokenize the corpus: beside the score matrix each index keeps the term count
behind every entry (`counts.csc.index.npy`, aligned with the scores). An update drops the entries
of removed chunks, renumbers the rest, merges in the entries of the new chunks (the only ones
tokenized) and recomputes every score from the counts with numpy (a score depends on the number
of chunks, the average chunk length and the term's document frequency, so any can change):
seconds at a million chunks, against minutes of tokenizing. The result equals a build from
scratch over the same chunks in the same order, bit for bit (tested)."""

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


def _base(word: str) -> str:
    """The word without what follows an apostrophe ("didn't" is "didn", "China's" is "china")."""
    return word.replace("’", "'").split("'")[0]


def tokenize(text: str) -> list[str]:
    words = [_base(w) for w in _WORD.findall(text.lower())]
    stop = _stopwords()
    return _stemmer().stemWords([w for w in words if w and w not in stop])


_WORD_ANY_CASE = re.compile(_WORD.pattern, re.IGNORECASE)


def word_spans(text: str) -> list[tuple[int, int]]:
    """Where each word `tokenize` reads stands in `text` (stopwords included): for reading words in
    their order and place (answer/support.py's claims)."""
    return [m.span() for m in _WORD_ANY_CASE.finditer(text)]


def terms(words: Sequence[str]) -> list[str]:
    """`tokenize`'s term of each word, '' for a stopword: tokenize(w) of each w, stemmed at once."""
    stop = _stopwords()
    bases = [_base(w.lower()) for w in words]
    kept = iter(_stemmer().stemWords([b for b in bases if b and b not in stop]))
    return [next(kept) if b and b not in stop else "" for b in bases]


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """`tokenize`'s tokens with where each stands in `text`: (term, start, end)."""
    spans = word_spans(text)
    return [(t, a, b) for t, (a, b) in zip(terms([text[a:b] for a, b in spans]), spans) if t]


K1 = 1.5  # bm25s's defaults; an index records them in params.index.json
B = 0.75
DELTA = 0.5  # unused by "lucene"; bm25s writes it
COUNTS_FILE = "counts.csc.index.npy"  # each entry's term count, aligned with data.csc.index.npy


class BM25Index:
    def __init__(self, model=None, *, csc: tuple | None = None, vocab: dict | None = None, num_docs: int = 0,
                 counts: np.ndarray | None = None):
        self._model = model  # a bm25s.BM25 when the saved method needs bm25s (old variants)
        self._csc = csc  # (data, indices, indptr) of the token x document score matrix
        self._vocab = vocab if vocab is not None else (model.vocab_dict if model is not None else {})
        self._num_docs = num_docs if model is None else int(model.scores["num_docs"])
        self._counts = counts  # the term count behind each entry of data; None in older indexes

    @property
    def num_docs(self) -> int:
        return self._num_docs

    @property
    def has_counts(self) -> bool:
        """Whether the term counts are stored (indexes written before them lack them)."""
        return self._counts is not None and self._csc is not None

    @classmethod
    def build(cls, texts: Sequence[str]) -> "BM25Index":
        return cls.update(None, np.zeros(0, np.int64), texts)

    @classmethod
    def update(cls, old: "BM25Index | None", kept_rows: np.ndarray, new_texts: Sequence[str]) -> "BM25Index":
        """The index over old's chunks `kept_rows` (ascending) followed by `new_texts`; only the new
        texts are tokenized. `old` must have its counts (`has_counts`) unless `kept_rows` is empty.

        The kept entries stay in their order (by term, then chunk: renumbering kept chunks keeps
        their order) and the new chunks' entries, sorted by term, go after them within each term
        (their chunks come last): a merge of two sorted lists by positions, with no sort of the whole."""
        kept_rows = np.asarray(kept_rows, dtype=np.int64)
        vocab: dict[str, int] = {}
        old_terms = np.zeros(0, np.int32)
        old_docs = np.zeros(0, np.int32)
        old_counts = np.zeros(0, np.int32)
        if old is not None and len(kept_rows):
            if old._counts is None or old._csc is None:
                raise ValueError("the old BM25 index has no stored term counts")
            if len(kept_rows) > 1 and not bool(np.all(np.diff(kept_rows) > 0)):
                raise ValueError("kept rows must be ascending")
            vocab = dict(old._vocab)
            _, indices, indptr = old._csc
            indptr = np.asarray(indptr, dtype=np.int64)
            old_docs, old_counts = np.asarray(indices), np.asarray(old._counts)
            old_terms = np.repeat(np.arange(len(indptr) - 1, dtype=np.int32), np.diff(indptr))
            if len(kept_rows) < old._num_docs:  # chunks removed: drop their entries, renumber the rest
                position = np.full(old._num_docs, -1, np.int64)
                position[kept_rows] = np.arange(len(kept_rows))
                renumbered = position[old_docs]
                keep = renumbered >= 0
                old_terms, old_counts = old_terms[keep], old_counts[keep]
                old_docs = renumbered[keep].astype(np.int32)
        new_indptr, new_terms, new_counts = _count_terms(new_texts, vocab)
        new_docs = (len(kept_rows) + np.repeat(np.arange(len(new_texts), dtype=np.int64), np.diff(new_indptr))).astype(np.int32)
        order = np.argsort(new_terms, kind="stable")  # the new entries only
        new_terms, new_docs, new_counts = new_terms[order], new_docs[order], new_counts[order]

        n_vocab = len(vocab)
        old_df = np.bincount(old_terms, minlength=n_vocab)
        new_df = np.bincount(new_terms, minlength=n_vocab)
        new_before = np.concatenate([[0], np.cumsum(new_df)[:-1]]) if n_vocab else np.zeros(0, np.int64)
        old_through = np.cumsum(old_df)
        size = len(old_terms) + len(new_terms)
        docs = np.empty(size, np.int32)
        counts = np.empty(size, np.int32)
        at_old = np.arange(len(old_terms), dtype=np.int64) + new_before[old_terms]
        at_new = np.arange(len(new_terms), dtype=np.int64) + old_through[new_terms]
        docs[at_old], docs[at_new] = old_docs, new_docs
        counts[at_old], counts[at_new] = old_counts, new_counts
        df = old_df + new_df
        vocab, df = _compact(vocab, df)
        n_docs = len(kept_rows) + len(new_texts)
        data, indptr = _scores(df, docs, counts, n_docs)
        return cls(csc=(data, docs, indptr), vocab=vocab, num_docs=n_docs, counts=counts)

    def save(self, folder: Path) -> None:
        if self._csc is None or self._counts is None:
            raise ValueError("only an index built here can be saved")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in zip(("data", "indices", "indptr"), self._csc):
            np.save(folder / f"{name}.csc.index.npy", np.asarray(array), allow_pickle=False)
        np.save(folder / COUNTS_FILE, np.asarray(self._counts), allow_pickle=False)
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
        counts = None
        if (folder / COUNTS_FILE).is_file():
            counts = np.load(folder / COUNTS_FILE, mmap_mode="r", allow_pickle=False)
        return cls(csc=csc, vocab=vocab, num_docs=int(params["num_docs"]), counts=counts)

    def idf(self, term: str) -> float:
        """The Lucene idf of a (tokenized) term over the chunks: how rare it is in this collection; a
        term no chunk holds counts as held by none."""
        df = 0
        if term in self._vocab:
            indptr = self._csc[2] if self._csc is not None else self._model.scores["indptr"]
            df = int(indptr[self._vocab[term] + 1] - indptr[self._vocab[term]])
        return _idf(df, self._num_docs)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk, in index order."""
        vocab = self._vocab
        tokens = [t for t in tokenize(query) if t in vocab]
        if not tokens:
            return np.zeros(self._num_docs, dtype=np.float32)
        if self._model is not None:
            return np.asarray(self._model.get_scores(tokens), dtype=np.float32)
        return self.weighted_scores([(t, 1.0) for t in tokens])

    def weighted_scores(self, terms: Sequence[tuple[str, float]]) -> np.ndarray:
        """The sum over (term, weight) of weight x the term's BM25 score in every chunk (a query whose
        terms count differently, as pseudo-relevance feedback makes one)."""
        scores = np.zeros(self._num_docs, dtype=np.float32)
        if self._csc is None:  # an old bm25s variant: its own scoring, term by term
            for term, weight in terms:
                if term in self._vocab:
                    scores += np.float32(weight) * np.asarray(self._model.get_scores([term]), dtype=np.float32)
            return scores
        data, indices, indptr = self._csc
        for term, weight in terms:  # in query order, as bm25s adds them
            if term not in self._vocab:
                continue
            token_id = self._vocab[term]
            start, end = int(indptr[token_id]), int(indptr[token_id + 1])
            values = data[start:end] if weight == 1.0 else data[start:end] * np.float32(weight)
            np.add.at(scores, indices[start:end], values)
        return scores


def rm3_terms(query: str, documents: Sequence[tuple[str, float]], n_terms: int,
              original_weight: float) -> list[tuple[str, float]]:
    """RM3 pseudo-relevance feedback (Lavrenko & Croft's relevance model, interpolated with the
    query): the `n_terms` terms most probable under the top documents (each term's share of a
    document, weighted by the document's share of their scores), mixed with the query's own terms
    as `original_weight` x query + (1 - `original_weight`) x feedback. (term, weight) pairs."""
    query_terms = tokenize(query)
    mixed: dict[str, float] = {}
    for term in query_terms:
        mixed[term] = mixed.get(term, 0.0) + original_weight / len(query_terms)
    total = sum(score for _, score in documents)
    model: dict[str, float] = {}
    for text, score in documents:
        terms = tokenize(text)
        if not terms or total <= 0:
            continue
        for term, count in Counter(terms).items():
            model[term] = model.get(term, 0.0) + (count / len(terms)) * (score / total)
    best = sorted(model.items(), key=lambda kv: (-kv[1], kv[0]))[:n_terms]
    norm = sum(p for _, p in best) or 1.0
    for term, p in best:
        mixed[term] = mixed.get(term, 0.0) + (1 - original_weight) * p / norm
    return list(mixed.items())


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


def _compact(vocab: dict[str, int], df: np.ndarray) -> tuple[dict[str, int], np.ndarray]:
    """Terms no chunk holds any more leave the vocabulary (ids renumbered, order kept, so the
    entries' order is unchanged: their columns were empty)."""
    present = df > 0
    if present.all():
        return vocab, df
    new_id = np.cumsum(present, dtype=np.int64) - 1
    return {t: int(new_id[i]) for t, i in vocab.items() if present[i]}, df[present]


def _scores(df: np.ndarray, docs: np.ndarray, counts: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """bm25s's lucene scores of the CSC entries (data float32, indptr int64), from term counts.
    Every operation mirrors bm25s.scoring in type and order (float64 with a float32 idf and a
    float32 result), so the values are bit-identical."""
    indptr = np.zeros(len(df) + 1, np.int64)
    np.cumsum(df, out=indptr[1:])
    doc_len = np.bincount(docs, weights=counts, minlength=n_docs).astype(np.int64)
    avg_doc_len = doc_len.mean() if n_docs else np.float64(0.0)
    values, inverse = np.unique(df, return_inverse=True)
    idf_of = np.array([_idf(int(d), n_docs) for d in values], np.float64)
    idf = np.repeat(idf_of.astype(np.float32)[inverse.reshape(-1)], df)
    tf = counts.astype(np.float32).astype(np.float64)
    norm = K1 * ((1 - B) + B * doc_len.astype(np.float64) / avg_doc_len)  # per document, as bm25s
    data = (idf.astype(np.float64) * (tf / (norm[docs] + tf))).astype(np.float32)
    return data, indptr


def _idf(df: int, n_docs: int) -> float:
    """Lucene's idf, as bm25s computes it (math.log: numpy's may differ in the last bit)."""
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
