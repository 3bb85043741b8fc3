"""Sources that disagree: when a question asks for a figure or a date and another article states a
different one in a sentence about the same thing, the answer says so and quotes it with its
source. Values are compared after reading them (values.py): "90%" and "nearly 90 per cent" agree,
"June 10, 2025" and "Tuesday" in an article of that day agree, 62% and 70% do not."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistant import values
from assistant.citations import MARKER, cited_numbers
from assistant.grounding import Similarity, asks_for_date, asks_for_quantity
from assistant.sentences import Sentence
from assistant.settings import default
from assistant.types import Hit

RELEVANCE_MARGIN = default("differ_margin")  # the other sentence scores within this of the best-matching sentence
SAME_TOPIC = default("differ_same_topic")  # its cosine to the answer: the same thing, measured differently


def _reader(question: str) -> Callable[[str, str], list[values.Value]] | None:
    if asks_for_quantity(question):
        return lambda text, _date: values.quantities(text)
    if asks_for_date(question):
        return values.dates
    return None


def differing_sentences(
    question: str,
    answer_text: str,
    hits: Sequence[Hit],
    ranked: Callable[[], Sequence[Sentence]],
    similarity: Similarity,
    limit: int = 2,
    margin: float = RELEVANCE_MARGIN,
    same_topic: float = SAME_TOPIC,
) -> list[Sentence]:
    """Up to `limit` sentences, each from an article the answer does not cite, about as relevant to
    the question as the best one, stating a value of the kind asked that differs from every value
    the answer states. `ranked()` is called only for questions asking for a figure or a date."""
    read = _reader(question)
    if read is None:
        return []
    cited_n = [n for n in cited_numbers(answer_text) if 0 < n <= len(hits)]
    answer = MARKER.sub("", answer_text)
    reference = hits[cited_n[0] - 1].date if cited_n else ""
    stated = read(answer, reference)
    sentences = ranked() if stated else []
    if not sentences:
        return []
    cited = {hits[n - 1].chunk.doc_id for n in cited_n}
    candidates: dict[str, Sentence] = {}
    for sentence in sentences:
        if sentence.score < sentences[0].score - margin:
            break
        doc = hits[sentence.n - 1].chunk.doc_id
        if doc in cited or doc in candidates:
            continue
        if values.differ(stated, read(sentence.text, hits[sentence.n - 1].date)):
            candidates[doc] = sentence
    if not candidates:
        return []
    close = similarity(answer, [s.text for s in candidates.values()])
    return [c for c, sim in zip(candidates.values(), close) if sim >= same_topic][:limit]


def note(differing: Sequence[Sentence], question: str, hits: Sequence[Hit]) -> str:
    kind = "figure" if asks_for_quantity(question) else "date"
    lines = []
    for s in differing:
        hit = hits[s.n - 1]
        source = ", ".join(x for x in (hit.title, hit.date) if x)
        lines.append(f"Another article{f' ({source})' if source else ''} gives a different {kind}: “{s.text}” [{s.n}]")
    return "\n".join(lines)
