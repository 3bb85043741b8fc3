"""The model cites passages as [n]; here each number is mapped back to its chunk, numbers that were
never shown are stripped (and recorded), a claim copied from another passage than the one it
names is moved to that passage (and recorded), and each citation gets the passage sentence that
best matches the claim citing it, with its exact offsets in the document."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from assistant.chunking import sentence_spans
from assistant.lexical import tokenize
from assistant.settings import default
from assistant.types import Citation, Hit

# [1], [1, 2], [1][2], [1-3], [Passage 2], [passages 1 and 3]
MARKER = re.compile(r"\[\s*(?:passages?\s*)?(\d+(?:\s*(?:,|;|–|-|and)\s*\d+)*)\s*\]", re.IGNORECASE)


def _numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", group):
        if re.fullmatch(r"\d+\s*[–-]\s*\d+", part):
            a, b = (int(x) for x in re.split(r"[–-]", part))
            out.extend(range(a, b + 1) if 0 < b - a < 20 else [a, b])
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def cited_numbers(text: str) -> list[int]:
    """Every passage number the text's markers cite, in order."""
    return [n for m in MARKER.finditer(text) for n in _numbers(m.group(1))]


_LEADING_MARKERS = re.compile(rf"^(?:\s*{MARKER.pattern})+", re.IGNORECASE)
_TRAILING_MARKER = re.compile(rf"{MARKER.pattern}[\s.]*$", re.IGNORECASE)


@dataclass
class _Claim:
    text: str  # the sentence, markers removed
    markers: list[tuple[int, int, list[int]]] = field(default_factory=list)  # (start, end, numbers) in the answer
    span: tuple[int, int] = (0, 0)  # the sentence in the answer, with the marker-only sentences that go with it

    @property
    def numbers(self) -> list[int]:
        return [n for _, _, nums in self.markers for n in nums]


_POINTING = {"passag", "articl", "sourc", "state", "mention", "found", "inform", "accord", "from", "given", "said"}


def _only_points(sentence: str) -> bool:
    """'This is stated in passage .' (marker removed): a pointer to a passage, no claim of its own."""
    terms = set(tokenize(sentence))
    return bool(terms) and terms <= _POINTING and bool(terms & {"passag", "articl", "sourc"})


def _claims(text: str) -> list[_Claim]:
    """Each answer sentence with the markers that cite passages for it."""
    # "A. [1] B. [2]" cites after each sentence, "[1] A. [2] B." before it: the sentence splitter
    # puts "[1]" at the head of "B." either way, so which one it is comes from the text's ends.
    cites_after = bool(_TRAILING_MARKER.search(text)) and not _LEADING_MARKERS.match(text)
    out: list[_Claim] = []
    for s, e in sentence_spans(text):
        sentence = text[s:e]
        markers = [(s + m.start(), s + m.end(), _numbers(m.group(1))) for m in MARKER.finditer(sentence)]
        leading = _LEADING_MARKERS.match(sentence)
        if cites_after and leading and out:
            moved = [m for m in markers if m[1] <= s + leading.end()]
            out[-1].markers.extend(moved)
            out[-1].span = (out[-1].span[0], s + leading.end())
            markers, sentence, s = markers[len(moved):], sentence[leading.end():], s + leading.end()
        out.append(_Claim(MARKER.sub("", sentence), markers, (s, e)))
    # A marker standing alone ("... rose. [2]", or "[1]. China ...") or in a sentence that only points
    # to it ("This is stated in passage [1].") belongs to its neighbour sentence.
    merged: list[_Claim] = []
    carry: list[tuple[int, int, list[int]]] = []
    carry_start = -1
    for claim in out:
        if not claim.text.strip(" .:") or _only_points(claim.text):
            if merged:
                merged[-1].markers.extend(claim.markers)
                merged[-1].span = (merged[-1].span[0], claim.span[1])
            else:
                carry.extend(claim.markers)
                carry_start = claim.span[0] if carry_start < 0 else carry_start
            continue
        start = carry_start if carry_start >= 0 else claim.span[0]
        merged.append(_Claim(claim.text, carry + claim.markers, (start, claim.span[1])))
        carry, carry_start = [], -1
    return merged


def claims(text: str) -> list[tuple[str, list[int], tuple[int, int]]]:
    """(sentence without markers, the passage numbers cited for it, its span in the text) of each
    sentence of an answer; a marker standing alone belongs to its neighbour sentence."""
    return [(c.text.strip(), c.numbers, c.span) for c in _claims(text)]


_FIGURE = re.compile(r"\d[\d,.]*\d|\d")


def figure_spans(text: str) -> list[tuple[str, int, int]]:
    """(figure, start, end) of each number a text states; the figure as `figures` gives it."""
    out = []
    for m in _FIGURE.finditer(text):
        f = m.group().replace(",", "").rstrip(".")
        out.append((f.lstrip("0") or "0" if f.isdigit() else f, m.start(), m.end()))
    return out


def figures(text: str) -> set[str]:
    """The numbers a text states, as written but without thousands commas or leading zeros ("06 June" is 6)."""
    return {f for f, _, _ in figure_spans(text)}


def best_quote(claim: str, hit: Hit) -> tuple[int, int, str, float]:
    """The sentence of the shown passage that shares most content words with the claim; a shared
    figure counts three times, since figures are what a reader checks."""
    text = hit.shown_text
    offset = hit.context_start if hit.context else hit.chunk.start
    claim_terms, claim_figures = set(tokenize(claim)), figures(claim)
    spans = sentence_spans(text) or [(0, len(text))]
    best = (*spans[0], -1.0)
    for s, e in spans:
        terms = set(tokenize(text[s:e]))
        shared = len(claim_terms & terms) + 2 * len(claim_figures & figures(text[s:e]))
        score = shared / (len(claim_terms) + 2 * len(claim_figures) or 1)
        if score > best[2]:
            best = (s, e, score)
    s, e, score = best
    return offset + s, offset + e, text[s:e], score


RECITE_MARGIN = default("recite_margin")  # another passage matches the claim this much better than every cited one
RECITE_MIN = default("recite_min")  # and holds at least this share of it
QUOTE_MIN = default("quote_min_overlap")  # below this, a citation's quote is weak support for the claim


def _recite(text: str, claims: list[_Claim], shown: dict[int, Hit], margin: float = RECITE_MARGIN,
            minimum: float = RECITE_MIN) -> tuple[str, list[tuple[int, int]]]:
    """Move a claim's markers to the passage it was copied from, when the model numbered it wrong:
    small models copy a sentence from passage 3 and write [4]. Returns the text and (from, to) pairs."""
    edits: list[tuple[int, int, str]] = []
    moved: list[tuple[int, int]] = []
    for claim in claims:
        nums = [n for n in claim.numbers if n in shown]
        if not nums or len(set(tokenize(claim.text))) < 4:  # "As passage 2 says." has nothing to match
            continue
        score = {n: best_quote(claim.text, hit)[3] for n, hit in shown.items()}
        best = max((n for n in shown if n not in nums), key=score.__getitem__, default=None)
        if best is not None and score[best] >= max(max(score[n] for n in nums) + margin, minimum):
            edits += [(start, end, f"[{best}]" if i == 0 else "") for i, (start, end, _) in enumerate(claim.markers)]
            moved += [(n, best) for n in dict.fromkeys(nums)]
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text, moved


class Resolved(NamedTuple):
    text: str  # the answer with unknown markers removed and misnumbered ones moved
    citations: list[Citation]  # in order of first use
    dropped: list[int]  # numbers of passages that were never shown
    recited: list[tuple[int, int]]  # (from, to): markers moved to the passage the claim was copied from


def resolve(answer_text: str, hits: Sequence[Hit], *, recite_margin: float = RECITE_MARGIN,
            recite_min: float = RECITE_MIN, quote_min: float = QUOTE_MIN) -> Resolved:
    """The answer's markers checked against the shown passages (numbered from 1), and its citations."""
    shown = {i: h for i, h in enumerate(hits, 1)}
    dropped: list[int] = []

    def strip_unknown(m: re.Match) -> str:
        nums = _numbers(m.group(1))
        good = [n for n in nums if n in shown]
        dropped.extend(n for n in nums if n not in shown and n not in dropped)
        return "".join(f"[{n}]" for n in good)

    text = MARKER.sub(strip_unknown, answer_text)
    text = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    claims = _claims(text)
    text, recited = _recite(text, claims, shown, recite_margin, recite_min)
    if recited:
        claims = _claims(text)  # the markers moved

    chosen: dict[int, tuple[float, Citation]] = {}
    for claim in claims:
        for n in claim.numbers:
            hit = shown[n]
            start, end, quote, score = best_quote(claim.text, hit)
            citation = Citation(
                n=n, doc_id=hit.chunk.doc_id, title=hit.title, chunk_id=hit.chunk.id,
                start=start, end=end, quote=quote, supported=score >= quote_min,
            )
            if n not in chosen or score > chosen[n][0]:
                chosen[n] = (score, citation)
    order = []
    for m in MARKER.finditer(text):
        for n in _numbers(m.group(1)):
            if n in chosen and n not in order:
                order.append(n)
    return Resolved(text, [chosen[n][1] for n in order], dropped, recited)
