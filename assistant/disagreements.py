"""Sources that disagree: when a question asks for a figure or a date and another article states a
different one in a sentence about the same thing, the answer says so and quotes it. Small models
report one source's figure even when the prompt tells them to give each (eval/README.md), and a
reader should not have to find out from the sources that they differ."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.citations import MARKER, cited_numbers
from assistant.grounding import MONTHS, WEEKDAYS, Similarity, asks_for_date, asks_for_quantity
from assistant.types import Hit

_DATE = re.compile(rf"\b(?:(\d{{1,2}})\s+)?({MONTHS})(?:\s+(\d{{1,2}})\b)?|\b({WEEKDAYS})\b|\b((?:19|20)\d\d)\b", re.IGNORECASE)
_SHARE = re.compile(r"(\d[\d.]*)\s*(?:%|per ?cent\b|percent\b)|\b(?:nearly|almost|virtually|practically) (all|none)\b", re.IGNORECASE)

RELEVANCE_MARGIN = 0.1  # the other sentence scores within this of the best-matching sentence
SAME_TOPIC = 0.5  # MiniLM cosine of the other sentence to the answer: the same thing, measured differently


def date_values(text: str) -> set[str]:
    """'09 June 2025' and 'June 9' give {'june 9', '2025'} and {'june 9'}; 'Monday' gives {'monday'}."""
    out = set()
    for day_before, month, day_after, weekday, year in _DATE.findall(text):
        if month:
            day = day_before or day_after
            out.add(f"{month.lower()} {int(day)}" if day else month.lower())
        out.update(x.lower() for x in (weekday, year) if x)
    return out


def share_values(text: str) -> set[str]:
    """'over 80%' gives {'80'}; 'nearly all' gives {'all'}."""
    return {(number.rstrip(".") or word).lower() for number, word in _SHARE.findall(text)}


def differing_sentences(
    question: str,
    answer_text: str,
    hits: Sequence[Hit],
    ranked: Callable[[], Sequence[tuple[float, int, int, str]]],
    similarity: Similarity,
    limit: int = 2,
) -> list[tuple[int, str]]:
    """(passage number, sentence) of up to `limit` articles the answer does not cite whose sentence,
    about as relevant to the question as the best one, states a different figure or date than the
    answer. `ranked()` gives (score, position, passage number, sentence) of the shown sentences,
    best first; it is called only for questions asking for a figure or a date."""
    values = share_values if asks_for_quantity(question) else date_values if asks_for_date(question) else None
    answer = MARKER.sub("", answer_text)
    stated = values(answer) if values else set()
    sentences = ranked() if stated else []
    if not sentences:
        return []
    cited = {hits[n - 1].chunk.doc_id for n in cited_numbers(answer_text) if 0 < n <= len(hits)}
    candidates: dict[str, tuple[int, str]] = {}
    for score, _, n, sentence in sentences:
        if score < sentences[0][0] - RELEVANCE_MARGIN:
            break
        doc = hits[n - 1].chunk.doc_id
        if doc in cited or doc in candidates:
            continue
        given = values(sentence)
        if given and not given & stated:
            candidates[doc] = (n, sentence)
    if not candidates:
        return []
    close = similarity(answer, [s for _, s in candidates.values()])
    return [c for c, sim in zip(candidates.values(), close) if sim >= SAME_TOPIC][:limit]


def note(differing: Sequence[tuple[int, str]], question: str) -> str:
    kind = "figure" if asks_for_quantity(question) else "date"
    return " ".join(f"Another article gives a different {kind}: {sentence} [{n}]" for n, sentence in differing)
