"""`Document` → `Chunk`s: whole sentences packed up to a token budget measured by the embedder's own
tokenizer (so the model never truncates a chunk), with overlap, and exact character offsets."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.types import Chunk, Document

TokenCounter = Callable[[Sequence[str]], list[int]]

_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*(?P<gap>\s+)(?=[\"“‘'(\[]?[A-Z0-9])|(?P<para>\n\s*\n)")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "gen", "gov", "sen", "rep", "col", "lt", "capt",
    "inc", "corp", "co", "ltd", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "e.g", "i.e", "etc", "approx",
}


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace trimmed; "U.S." and "Dr." do not end a sentence."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        cut = m.start("gap") if m.group("gap") is not None else m.start()
        if m.group("para") is None and m.group("gap").count("\n") < 2:
            before = text[start:cut].rsplit(None, 1)
            last = before[-1].rstrip(".!?…\"'”’)]").lower() if before else ""
            # "U.S. President", "Dr. Smith": an abbreviation or a run of initials.
            if last in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)*[a-z]", last):
                continue
        _add_span(text, start, cut, spans)
        start = m.end()
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _split_long(text: str, span: tuple[int, int], max_tokens: int, count: TokenCounter) -> list[tuple[int, int]]:
    """A sentence over budget is cut between words; a single word over budget (a long URL, or
    Chinese or Japanese text, which has no spaces) between characters."""
    words = [(m.start() + span[0], m.end() + span[0]) for m in re.finditer(r"\S+", text[span[0]:span[1]])]
    pieces, i = [], 0
    while i < len(words):
        lo, hi = i + 1, len(words)
        while lo < hi:  # largest j with words[i:j] within budget
            mid = (lo + hi + 1) // 2
            if count([text[words[i][0]:words[mid - 1][1]]])[0] <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        if lo == i + 1 and count([text[words[i][0]:words[i][1]]])[0] > max_tokens:
            pieces.extend(_split_chars(text, words[i], max_tokens, count))
        else:
            pieces.append((words[i][0], words[lo - 1][1]))
        i = lo
    return pieces


def _split_chars(text: str, span: tuple[int, int], max_tokens: int, count: TokenCounter) -> list[tuple[int, int]]:
    pieces, start = [], span[0]
    while start < span[1]:
        lo, hi = start + 1, span[1]
        while lo < hi:  # largest end with text[start:end] within budget (one character at least)
            mid = (lo + hi + 1) // 2
            if count([text[start:mid]])[0] <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        pieces.append((start, lo))
        start = lo
    return pieces


def chunk_document(doc: Document, count: TokenCounter, max_tokens: int, overlap_tokens: int) -> list[Chunk]:
    text = doc.text
    spans = sentence_spans(text)
    if not spans:
        return []
    sizes = count([text[s:e] for s, e in spans])
    units: list[tuple[int, int, int]] = []
    for (s, e), n in zip(spans, sizes):
        if n <= max_tokens:
            units.append((s, e, n))
        else:
            for ps, pe in _split_long(text, (s, e), max_tokens, count):
                units.append((ps, pe, count([text[ps:pe]])[0]))

    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last, total = first, units[first][2]
        while last + 1 < len(units) and total + units[last + 1][2] <= max_tokens:
            last += 1
            total += units[last][2]
        # The sum of the sentences' counts is the count of the text joining them for a WordPiece
        # tokenizer; checked anyway, so a tokenizer that counts the joins cannot overfill a chunk.
        while last > first and count([text[units[first][0]:units[last][1]]])[0] > max_tokens:
            last -= 1
        start, end = units[first][0], units[last][1]
        chunks.append(Chunk(id=f"{doc.id}#{len(chunks)}", doc_id=doc.id, start=start, end=end, text=text[start:end]))
        if last + 1 >= len(units):
            break
        # Step back over whole sentences worth at most `overlap_tokens`, but always move forward.
        nxt, carried = last + 1, 0
        while nxt - 1 > first and carried + units[nxt - 1][2] <= overlap_tokens:
            nxt -= 1
            carried += units[nxt][2]
        first = nxt
    return chunks
