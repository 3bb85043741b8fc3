"""The sentences of the retrieved passages, ranked by how well each matches the question.

Every way of answering starts here: the extractive strategy quotes the best ones, a language model
is shown the best `prompt_sentences` of them, evidence-first answering lets the model pick among
them, and the differing-sources check compares them. A sentence is scored by the cosine of its
embedding to the question's (the index's embedder) plus a bonus for shared content words.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.chunking import sentence_spans
from assistant.lexical import tokenize
from assistant.settings import Settings, default
from assistant.types import Hit

MIN_WORDS = default("sentence_min_words")  # shorter "sentences" are headings, bylines and captions
OVERLAP_BONUS = default("sentence_overlap_bonus")  # weight of the share of the question's words a sentence holds
PASSAGE_PRIOR = default("sentence_passage_prior")  # what being under the first passage adds, when choosing what to show


@dataclass(frozen=True)
class Sentence:
    score: float
    position: int  # order in the passages as shown: keeps sentences shown together in reading order
    n: int  # the passage number it is shown under
    text: str
    start: int  # offsets in the document's cleaned text
    end: int


def passage_sentences(hits: Sequence[Hit], min_words: int = MIN_WORDS) -> list[tuple[int, str, int, int]]:
    """(passage number, sentence, start, end in the document) of each shown passage's sentences."""
    out = []
    for n, hit in enumerate(hits, 1):
        text = hit.shown_text
        offset = hit.context_start if hit.context else hit.chunk.start
        for s, e in sentence_spans(text):
            sentence = text[s:e].strip()
            if len(sentence.split()) >= min_words:
                out.append((n, sentence, offset + s, offset + e))
    return out


def scores(embedder, question: str, sentences: Sequence[str], bonus: float = OVERLAP_BONUS,
           idf: Callable[[str], float] | None = None) -> np.ndarray:
    """Cosine to the question plus `bonus` x the share of the question's words a sentence holds,
    each word weighted by `idf` (its rarity in the collection: "dysprosium" counts for more than
    "China" in articles about China) or, without it, all alike."""
    cosine = _cosines(embedder, question, tuple(sentences))
    q_terms = set(tokenize(question))
    weight = {t: idf(t) if idf else 1.0 for t in q_terms}
    total = sum(weight.values()) or 1.0
    overlap = np.array([sum(weight[t] for t in q_terms & set(tokenize(s))) / total for s in sentences])
    return cosine + bonus * overlap


_COSINES: OrderedDict = OrderedDict()  # the last few questions' cosines: an answer, its checks and the eval rank alike
_COSINES_KEPT = 32
_COSINES_LOCK = threading.Lock()


def _cosines(embedder, question: str, sentences: tuple[str, ...]) -> np.ndarray:
    key = (id(embedder), question, sentences)  # the entry keeps its embedder alive, so the id stays its own
    with _COSINES_LOCK:
        if key in _COSINES:
            _COSINES.move_to_end(key)
            return _COSINES[key][1]
    if getattr(embedder, "query_prefix", ""):  # E5: the question embedded as a query, the sentences as passages
        cosine = embedder.embed(list(sentences)) @ embedder.embed_query([question])[0]
    else:
        vectors = embedder.embed([question, *sentences])
        cosine = vectors[1:] @ vectors[0]
    cosine.setflags(write=False)  # shared by whoever asks again
    with _COSINES_LOCK:
        _COSINES[key] = (embedder, cosine)
        while len(_COSINES) > _COSINES_KEPT:
            _COSINES.popitem(last=False)
    return cosine


def rank(embedder, question: str, hits: Sequence[Hit], min_words: int = MIN_WORDS,
         bonus: float = OVERLAP_BONUS, idf: Callable[[str], float] | None = None) -> list[Sentence]:
    """Every shown sentence, best first (ties in reading order)."""
    candidates = passage_sentences(hits, min_words)
    if not candidates:
        return []
    scored = scores(embedder, question, [s for _, s, _, _ in candidates], bonus, idf)
    ranked = [Sentence(float(scored[i]), i, n, s, a, b) for i, (n, s, a, b) in enumerate(candidates)]
    return sorted(ranked, key=lambda x: (-x.score, x.position))


def best(ranked: Sequence[Sentence], count: int, passage_prior: float = PASSAGE_PRIOR) -> list[Sentence]:
    """The `count` best distinct sentences (overlapping passages repeat sentences), in reading order.
    With `passage_prior`, a sentence counts `passage_prior / n` more under the n-th passage: the
    retrieval's ranking (lexical, dense and recency evidence on the whole passage) breaks what the
    sentence's own score leaves close. Only which sentences are shown changes, not their scores."""
    if passage_prior:
        ranked = sorted(ranked, key=lambda x: (-(x.score + passage_prior / x.n), x.position))
    chosen: dict[str, Sentence] = {}
    for sentence in ranked:
        if len(chosen) >= count:
            break
        chosen.setdefault(sentence.text, sentence)
    return sorted(chosen.values(), key=lambda x: x.position)


def ranking(embedder, index, question: str, hits: Sequence[Hit], settings: Settings) -> list[Sentence]:
    """`rank` as the settings say: every answer and the eval rank the shown passages' sentences here."""
    idf = index.bm25.idf if settings.sentence_overlap_idf else None
    return rank(embedder, question, hits, settings.sentence_min_words, settings.sentence_overlap_bonus, idf)


def shown(ranked: Sequence[Sentence], settings: Settings) -> list[Sentence]:
    """The sentences a language model is shown: the best `prompt_sentences` (12 when that is 0, for
    the evidence-first strategy, which always shows sentences). The `select` strategy shows these
    and `assistant eval` scores these, so what is measured is what the model reads."""
    return best(ranked, settings.prompt_sentences or 12, settings.sentence_passage_prior)
