"""Claim support, checked after the answer is written and independently of how it was written: does
the passage an answer sentence cites hold it? A passage holds a sentence when it states every
figure and every name the sentence states and most of its content words, and says nothing against
it (`claims.py`): no negation the other way, no figure or name beside something else than the
sentence says, no yes/no verdict the other way. A sentence its cited passage does not hold is
cited to a shown passage that does, or removed (a bare "Yes"/"No" is not moved: any passage that
does not address the question would take it); an answer left with nothing held is a refusal. Each
sentence comes back as a `Claim` with its supporting quote."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from assistant.answer.claims import conflict
from assistant.answer.citations import MARKER, best_quote, claims, figures
from assistant.answer.grounding import is_refusal, names, words, yes_no
from assistant.lexical import tokenize
from assistant.prompts import REFUSAL
from assistant.settings import default
from assistant.types import Claim, Hit

MIN_OVERLAP = default("support_min_overlap")  # share of a sentence's content words its passage must hold


@dataclass(frozen=True)
class Supported:
    text: str  # the answer with unsupported sentences removed and others re-cited
    removed: tuple[str, ...]
    claims: tuple[Claim, ...]


def _passage(hit: Hit) -> str:
    return f"{hit.title} {hit.date} {hit.shown_text}"


def holds(sentence: str, passage: str, question: str = "", min_overlap: float = MIN_OVERLAP) -> bool:
    return not unsupported(sentence, passage, question, min_overlap)


def unsupported(sentence: str, passage: str, question: str = "", min_overlap: float = MIN_OVERLAP) -> str:
    """Why the passage does not hold the sentence; '' when it holds it: it states what the sentence
    states (`missing`) and says nothing against it (`claims.conflict`)."""
    return missing(sentence, passage, question, min_overlap) or conflict(sentence, passage, question)


def missing(sentence: str, passage: str, question: str = "", min_overlap: float = MIN_OVERLAP) -> str:
    """What of the sentence the passage does not state ('' when nothing): a figure, a name (the
    question's names count as stated), or more than `min_overlap` of its content words. A leading
    "Yes"/"No" answers the question and is not looked for in the passage."""
    verdict, rest = yes_no(sentence)
    sentence = rest if verdict else sentence
    stated = _stated(passage)
    if absent := figures(sentence) - stated.figures:
        return f"figure {min(absent)} is not in the passage"
    if absent := capitalised(sentence) - stated.words - words(question):
        return f"name {min(absent)!r} is not in the passage"
    terms = set(tokenize(sentence))
    if terms and len(terms & stated.terms) < min_overlap * len(terms):
        return "the passage holds too few of its words"
    return ""


@dataclass(frozen=True)
class _Stated:
    figures: frozenset[str]
    words: frozenset[str]
    terms: frozenset[str]


@lru_cache(maxsize=256)
def _stated(passage: str) -> _Stated:
    """A passage's figures, words and terms, read once: every answer sentence is held against every shown passage."""
    return _Stated(frozenset(figures(passage)), frozenset(words(passage)), frozenset(tokenize(passage)))


def capitalised(sentence: str) -> set[str]:
    """Names the sentence states, its first word included ("Australia mines ..."), unless it is a
    stopword or set off by a comma ("Yes, ...", "However, ...")."""
    first = re.match(r"\W*([A-Za-z][\w'’-]*)(,?)", sentence)
    found = names(sentence)
    if first and first.group(2) != "," and first.group(1)[0].isupper() and tokenize(first.group(1)):
        found |= names(f"x {first.group(1)}")
    return found


def check(text: str, hits: Sequence[Hit], question: str = "", min_overlap: float = MIN_OVERLAP) -> Supported:
    if is_refusal(text):
        return Supported(text, (), ())
    shown = {n: _passage(h) for n, h in enumerate(hits, 1)}
    edits: list[tuple[int, int, str]] = []
    removed: list[str] = []
    out: list[Claim] = []
    for sentence, cited, (start, end) in claims(text):
        cited = [n for n in dict.fromkeys(cited) if n in shown]
        if not cited and len(tokenize(sentence)) < 2 and not figures(sentence):
            continue  # "Also." states nothing to support
        good = [n for n in cited if holds(sentence, shown[n], question, min_overlap)]
        if not good:
            verdict, rest = yes_no(sentence)
            bare = bool(verdict) and not tokenize(rest)  # a passage silent on the question would take a bare "No"
            others = [n for n in shown if not bare and n not in cited and holds(sentence, shown[n], question, min_overlap)]
            if others:  # cited to the passage that holds it
                good = others[:1]
                edits.append((start, end, _recite(text[start:end], good[0])))
            else:
                removed.append(sentence)
                edits.append((start, end, ""))
                continue
        hit = hits[good[0] - 1]
        q_start, q_end, quote, _ = best_quote(sentence, hit)
        out.append(Claim(sentence, tuple(good), True, hit.chunk.doc_id, q_start, q_end, quote))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    text = "\n".join(re.sub(r"[ \t]{2,}", " ", line).strip() for line in text.splitlines() if line.strip())
    if not out:
        return Supported(REFUSAL, tuple(removed), ())
    return Supported(text, tuple(removed), tuple(out))


def _recite(sentence: str, n: int) -> str:
    """The sentence with its markers replaced by one to passage n."""
    bare = re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", sentence)).rstrip()
    end = len(bare.rstrip(".!?;:”\"")) if bare[-1:] in ".!?;:”\"" else len(bare)
    return f"{bare[:end]} [{n}]{bare[end:]}"
