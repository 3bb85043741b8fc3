"""Question → ranked `Hit`s: dense (FAISS) and BM25 candidates, fused by weighted reciprocal rank,
nudged towards articles dated near the day the question is asked (news questions are mostly about
recent events), made diverse by maximal marginal relevance, filtered by date and source, widened by
sentences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import datetime as dt

import numpy as np

from assistant.chunking import sentence_spans
from assistant.settings import Settings
from assistant.store import Index
from assistant.types import Hit


@dataclass(frozen=True)
class Filters:
    since: str = ""  # ISO dates, inclusive
    until: str = ""
    sources: tuple[str, ...] = ()  # substrings of a document's source, URL or id
    as_of: str = ""  # the day the question is asked (ISO), for the recency prior; "" = today; not a filter

    def __bool__(self) -> bool:
        """Whether any article is filtered out (`as_of` filters nothing)."""
        return bool(self.since or self.until or self.sources)

    def day(self) -> dt.date:
        """The day the question is asked: `as_of`, or today."""
        return dt.date.fromisoformat(self.as_of) if self.as_of else dt.date.today()

    @classmethod
    def parse(cls, since: str | None, until: str | None, sources: Sequence[str] | None,
              as_of: str | None = None) -> "Filters":
        """From command-line words: dates in any common form become ISO."""
        from assistant.clean import find_date
        from assistant.errors import ConfigError

        def iso(value: str | None, flag: str) -> str:
            if not value:
                return ""
            parsed = find_date([value])
            if not parsed:
                raise ConfigError(f"{flag} {value!r} is not a date; use YYYY-MM-DD")
            return parsed

        return cls(since=iso(since, "--since"), until=iso(until, "--until"), sources=tuple(sources or ()),
                   as_of=iso(as_of, "--as-of"))


def allowed_rows(index: Index, filters: Filters) -> np.ndarray | None:
    """Boolean mask over chunks, or None when nothing is filtered."""
    if not filters:
        return None
    wanted = [s.lower() for s in filters.sources]
    ok_docs = set()
    for doc in index.documents.values():
        if filters.since and (not doc.date or doc.date < filters.since):
            continue
        if filters.until and (not doc.date or doc.date > filters.until):
            continue
        if wanted and not any(w in f"{doc.source} {doc.url} {doc.id}".lower() for w in wanted):
            continue
        ok_docs.add(doc.id)
    return np.fromiter((c.doc_id in ok_docs for c in index.chunks), dtype=bool, count=len(index.chunks))


def rrf_fuse(rankings: Sequence[Sequence[int]], weights: Sequence[float], k: int) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def recency(fused: Sequence[tuple[int, float]], dates: Sequence[str], as_of: dt.date, half_life_days: float,
            weight: float, rrf_k: int) -> list[tuple[int, float]]:
    """The fused candidates re-scored: each gains `weight` x 2^(-days between its article's date and
    `as_of` / half-life), in units of a first place in one ranking (1 / (rrf_k + 1)); undated articles
    gain nothing. Articles all far older than `as_of` (an archive asked about today) gain next to
    nothing, so their order stands."""
    unit = weight / (rrf_k + 1)
    rescored = []
    for (row, score), date in zip(fused, dates):
        try:
            days = abs((as_of - dt.date.fromisoformat(date)).days) if date else None
        except ValueError:
            days = None
        rescored.append((row, score + (unit * 2.0 ** (-days / half_life_days) if days is not None else 0.0)))
    return sorted(rescored, key=lambda x: -x[1])


def mmr(
    candidates: Sequence[int], relevance: Sequence[float], vectors: np.ndarray, k: int, lam: float,
    groups: Sequence[str] | None = None, per_group: int = 0,
    redundant: Callable[[int, int], bool] | None = None,
) -> list[int]:
    """Maximal marginal relevance: each pick trades relevance for distance from what is already picked.
    With `groups` (document ids) and `per_group`, a group past its quota is picked only when nothing
    else is left, so a question that needs two articles gets both. `redundant(i, j)` (candidate
    positions) drops candidate i once j is picked: its whole text is already shown."""
    if (lam >= 1.0 and not per_group and redundant is None) or len(candidates) <= 1:
        return list(candidates[:k])
    rel = np.asarray(relevance, dtype=np.float32)
    rel = (rel - rel.min()) / (rel.max() - rel.min() + 1e-9)  # fused scores are tiny; put them on [0, 1]
    sims = vectors @ vectors.T
    chosen: list[int] = []
    left = list(range(len(candidates)))
    while left and len(chosen) < k:
        if chosen:
            penalty = sims[np.ix_(left, chosen)].max(axis=1)
        else:
            penalty = np.zeros(len(left), dtype=np.float32)
        scores = lam * rel[left] - (1 - lam) * penalty
        if groups is not None and per_group:
            taken = [groups[c] for c in chosen]
            full = np.array([taken.count(groups[i]) >= per_group for i in left])
            if not full.all():
                scores = np.where(full, -np.inf, scores)
        best = left[int(np.argmax(scores))]
        chosen.append(best)
        left = [i for i in left if i != best and not (redundant and redundant(i, best))]
    return [candidates[i] for i in chosen]


def _top(scores: np.ndarray, n: int, mask: np.ndarray | None) -> list[int]:
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    n = min(n, int(np.isfinite(scores).sum()) if mask is not None else len(scores))
    if n <= 0:
        return []
    top = np.argpartition(-scores, n - 1)[:n]
    return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]


def _already_shown(chunk, other, other_span: tuple[int, int]) -> bool:
    """All of `chunk`'s own text lies in the passage shown for `other` (same article)."""
    return chunk.doc_id == other.doc_id and other_span[0] <= chunk.start and chunk.end <= other_span[1]


class Retriever:
    def __init__(self, index: Index, embedder, settings: Settings):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._sentences: dict[str, list[tuple[int, int]]] = {}

    def dense_top(self, query_vector: np.ndarray, n: int, mask: np.ndarray | None) -> list[int]:
        """The FAISS search: the n rows nearest the query, among the allowed rows when filtered."""
        import faiss

        from assistant import vector_index

        vectors = self.index.vectors
        query = np.ascontiguousarray(query_vector[None, :], dtype=np.float32)
        if mask is None:
            _, rows = vectors.search(query, min(n, vectors.ntotal))
        else:
            allowed = np.flatnonzero(mask).astype(np.int64)
            if not len(allowed):
                return []
            params = vector_index.search_parameters(vectors, faiss.IDSelectorBatch(allowed))
            _, rows = vectors.search(query, min(n, len(allowed)), params=params)
        return [int(r) for r in rows[0] if r >= 0]

    def search(self, query: str, k: int | None = None, filters: Filters = Filters()) -> list[Hit]:
        s = self.settings
        k = k or s.k
        if not self.index.chunks:
            return []
        mask = allowed_rows(self.index, filters)
        qvec = getattr(self.embedder, "embed_query", self.embedder.embed)([query])[0]  # E5 embeds questions apart
        rankings, weights = [], []
        if s.retrieval in ("dense", "hybrid"):
            rankings.append(self.dense_top(qvec, s.candidates, mask))
            weights.append(s.dense_weight)
        if s.retrieval in ("bm25", "hybrid"):
            lexical = self.index.bm25.scores(query)
            if mask is not None:
                lexical = np.where(mask, lexical, 0.0)
            if s.rm3_terms and s.rm3_docs:
                lexical = self._feedback(query, lexical, mask)
            # Chunks sharing no query term are not lexical candidates at all.
            rankings.append([i for i in _top(lexical, s.candidates, mask) if lexical[i] > 0])
            weights.append(s.bm25_weight)
        fused = rrf_fuse(rankings, weights, s.rrf_k)
        if s.recency_half_life_days > 0 and s.recency_weight > 0 and fused:
            docs = self.index.documents
            fused = recency(fused, [docs[self.index.chunks[r].doc_id].date for r, _ in fused], filters.day(),
                            s.recency_half_life_days, s.recency_weight, s.rrf_k)
        fused = fused[: max(k * 4, 20)]
        if not fused:
            return []
        rows = [r for r, _ in fused]
        vectors = self.index.vectors.reconstruct_batch(np.asarray(rows, dtype=np.int64))
        spans: dict[int, tuple[int, int]] = {}  # only picked rows are widened: they alone are compared and shown

        def shown(row: int) -> tuple[int, int]:
            if row not in spans:
                spans[row] = self._shown_span(row)
            return spans[row]

        chunks = self.index.chunks
        chosen = mmr(rows, [sc for _, sc in fused], vectors, k, s.mmr_lambda,
                     groups=[chunks[r].doc_id for r in rows], per_group=s.max_per_document,
                     redundant=lambda i, j: _already_shown(chunks[rows[i]], chunks[rows[j]], shown(rows[j])))
        score_of = dict(fused)
        return [self._hit(row, score_of[row], rank, shown(row)) for rank, row in enumerate(chosen, 1)]

    def _feedback(self, query: str, lexical: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """BM25 again with the query expanded by RM3 from the `rm3_docs` best chunks (lexical.rm3_terms)."""
        from assistant.lexical import rm3_terms

        s = self.settings
        top = [r for r in _top(lexical, s.rm3_docs, mask) if lexical[r] > 0]
        if not top:
            return lexical
        docs = self.index.documents
        feedback = [(f"{docs[self.index.chunks[r].doc_id].title} {self.index.chunks[r].text}", float(lexical[r]))
                    for r in top]
        expanded = self.index.bm25.weighted_scores(rm3_terms(query, feedback, s.rm3_terms, s.rm3_query_weight))
        return np.where(mask, expanded, 0.0) if mask is not None else expanded

    def _shown_span(self, row: int) -> tuple[int, int]:
        """The chunk widened by `window_sentences` sentences each side: what the model is shown."""
        chunk = self.index.chunks[row]
        start, end = chunk.start, chunk.end
        if self.settings.window_sentences:
            if chunk.doc_id not in self._sentences:
                self._sentences[chunk.doc_id] = sentence_spans(self.index.documents[chunk.doc_id].text)
            spans = self._sentences[chunk.doc_id]
            first = next((i for i, (s0, e0) in enumerate(spans) if e0 > start), 0)
            last = next((i for i in range(len(spans) - 1, -1, -1) if spans[i][0] < end), len(spans) - 1)
            w = self.settings.window_sentences
            start = spans[max(0, first - w)][0]
            end = spans[min(len(spans) - 1, last + w)][1]
        return start, end

    def _hit(self, row: int, score: float, rank: int, span: tuple[int, int]) -> Hit:
        chunk = self.index.chunks[row]
        doc = self.index.documents[chunk.doc_id]
        start, end = span
        return Hit(
            chunk=chunk, score=float(score), rank=rank, title=doc.title, date=doc.date, source=doc.source,
            context=doc.text[start:end], context_start=start, context_end=end,
        )
