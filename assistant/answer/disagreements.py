"""Sources that disagree: when a question asks for a figure or a date and another article states a
different one in a sentence about the same thing, the answer's first line names that value with
its citation ("62%. [4] Another article: about 70%. [1]") and the sentence is quoted under it.
Values are compared after reading them (values.py): "90%" and "nearly 90 per cent" agree, "June
10, 2025" and "Tuesday" in an article of that day agree, 62% and 70% do not, and a count of leaders
is not a count of minutes."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.answer import values
from assistant.answer.citations import MARKER, cited_numbers
from assistant.answer.grounding import HEDGE, Similarity, asks_for_date, asks_for_quantity
from assistant.sentences import Sentence
from assistant.settings import default
from assistant.types import Hit

RELEVANCE_MARGIN = default("differ_margin")  # the other sentence scores within this of the best-matching sentence
SAME_TOPIC = default("differ_same_topic")  # its cosine to the answer: the same thing, measured differently


Reader = Callable[[str, str], list[values.Value]]  # (text, its article's date) -> the values of the kind asked


def _reader(question: str) -> Reader | None:
    if asks_for_quantity(question):
        return lambda text, _date: values.quantities(text)
    if asks_for_date(question):
        return values.dates
    return None


def _stated(read: Reader, answer_text: str, hits: Sequence[Hit]) -> tuple[list[int], list[values.Value]]:
    """(the passages the answer cites, the values it states), a weekday read in the first cited
    article's date."""
    cited_n = [n for n in cited_numbers(answer_text) if 0 < n <= len(hits)]
    return cited_n, read(MARKER.sub("", answer_text), hits[cited_n[0] - 1].date if cited_n else "")


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
    cited_n, stated = _stated(read, answer_text, hits)
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
    close = similarity(MARKER.sub("", answer_text), [s.text for s in candidates.values()])
    return [c for c, sim in zip(candidates.values(), close) if sim >= same_topic][:limit]


_SINCE = re.compile(r"(?:since|until|before|after|by|from|in|on)\s+$", re.IGNORECASE)


def _differing_value(sentence: Sentence, read: Reader, stated: list[values.Value], hits: Sequence[Hit]) -> str:
    """The first value of the kind asked in `sentence` that differs from every `stated` one, as the
    sentence writes it with the word that qualifies it ("about 70%", "since 2023"); '' when none."""
    text = sentence.text
    for value in read(text, hits[sentence.n - 1].date):
        if not values.differ(stated, [value]) or (at := text.find(value.text)) < 0:
            continue
        lead = HEDGE.search(text[:at]) or _SINCE.search(text[:at])
        said = text[lead.start() if lead else at:at + len(value.text)]
        return said[0].lower() + said[1:] if lead else said  # "Since 2023, ..." is "since 2023" here
    return ""


def first_line(line: str, differing: Sequence[Sentence], question: str, answer_text: str, hits: Sequence[Hit]) -> str:
    """The first line with each differing article's value after it, once however many give it:
    "62%. [4] Another article: about 70%. [1]", "1992. [4] Other articles: in 2024. [1, 3]"."""
    read = _reader(question)
    if read is None:
        return line
    _, stated = _stated(read, answer_text, hits)
    by_value: dict[str, list[int]] = {}
    for s in differing:
        if value := _differing_value(s, read, stated, hits):
            by_value.setdefault(value, []).append(s.n)
    added = [f"{'Another article' if len(ns) == 1 else 'Other articles'}: {value}. [{', '.join(map(str, ns))}]"
             for value, ns in by_value.items()]
    return " ".join([line, *added])


def note(differing: Sequence[Sentence], question: str, hits: Sequence[Hit]) -> str:
    kind = "figure" if asks_for_quantity(question) else "date"
    lines = []
    for s in differing:
        hit = hits[s.n - 1]
        source = ", ".join(x for x in (hit.title, hit.date) if x)
        lines.append(f"Another article{f' ({source})' if source else ''} gives a different {kind}: “{s.text}” [{s.n}]")
    return "\n".join(lines)
