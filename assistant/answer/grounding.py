"""Checks on a generated answer before it is shown: small models loop, echo the question, copy
passage headings, invent figures and names, and answer a neighbouring question instead of
refusing. Each check is plain text processing, so it runs the same way for every backend; the one
exception, whether a share in the answer is a share of what was asked, is given a similarity
function (the index's embedder) by the caller."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.answer import values
from assistant.chunking import sentence_spans
from assistant.answer.citations import MARKER, figures
from assistant.prompts import REFUSAL
from assistant.settings import default
from assistant.text import normalise
from assistant.types import Hit


def _normalise(text: str) -> str:
    """The text's words alone, for telling one sentence from another."""
    return re.sub(r"[^a-z0-9 ]+", "", normalise(text)).strip()


def is_refusal(text: str) -> bool:
    return _normalise(REFUSAL) in _normalise(text) or not text.strip()


_NOT_FOUND = re.compile(
    r"\b(do(es)? not (contain|mention|provide|say|specify|include)|no (information|mention)|not (mentioned|provided|specified|stated))\b",
    re.IGNORECASE,
)


def says_not_found(text: str) -> bool:
    """The model's own words for a refusal, when it does not use the fixed sentence."""
    return bool(_NOT_FOUND.search(text)) and len(text.split()) < 40


def drop_repeats(answer_text: str, question: str) -> str:
    """Remove sentences said before in the answer, and the question echoed back: greedy decoding
    of a small model can loop on one sentence."""
    seen = {_normalise(question)}
    kept = []
    for s, e in sentence_spans(answer_text):
        sentence = answer_text[s:e]
        key = _normalise(MARKER.sub("", sentence))
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(sentence)
    return " ".join(kept)


_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_NOT_NAMES = {"passage", "passages", "article", "articles"}
_PASSAGE_MENTION = re.compile(r"\bpassages?\s+\d+(?:\s*(?:,|and)\s*\d+)*", re.IGNORECASE)


def _bare(word: str) -> str:
    """Lower case, possessive dropped, whichever apostrophe: "Beijing's" and "Beijing’s" are "beijing",
    "the US’" (as an article writes it) and "the US'" (as a model does) are "us"."""
    return re.sub(r"'s?$", "", normalise(word))  # the one normaliser straightens the apostrophe


def words(text: str) -> set[str]:
    """The words of a text, bare, and the parts of hyphenated ones ("Columbia-class" holds "columbia")."""
    found = {_bare(w) for w in _WORD.findall(text)}
    return found | {part for w in found if "-" in w for part in w.split("-") if part}


def names(sentence: str) -> set[str]:
    """Capitalised words after the first: the names a sentence states."""
    return {_bare(w) for w in _WORD.findall(sentence)[1:] if w[0].isupper()} - _NOT_NAMES


# The verbs that open a yes/no question ("Did China ...?") and, after "and", a predicate of its own (claims.py).
FINITE = ("is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "can", "could", "will", "would",
          "should", "may", "might", "must")
_YES_NO_QUESTION = re.compile(rf"^\s*({'|'.join(FINITE)}|true or false)\b", re.IGNORECASE)
_YES_NO_ANSWER = re.compile(r"^\W*(yes|no|true|false)\b", re.IGNORECASE)


def asks_yes_no(question: str) -> bool:
    return bool(_YES_NO_QUESTION.search(question))


def yes_no(answer: str) -> tuple[str, str]:
    """("yes"/"no"/"true"/"false", what follows it) for an answer that opens with one; ("", answer) otherwise."""
    match = _YES_NO_ANSWER.match(answer)
    if not match:
        return "", answer
    return match.group(1).lower(), answer[match.end():].lstrip(" ,.;:-").strip()


_REFERS_BACK = re.compile(r"^\W*(this|that|it|these|those|such|he|she|they)\b", re.IGNORECASE)


def drop_invented(answer_text: str, hits: Sequence[Hit], question: str = "") -> tuple[str, list[str]]:
    """Remove answer sentences stating a number or a name that no shown passage (nor the question)
    contains: small models invent figures and places. A sentence that only goes on from a removed one
    ("This occurred in April, ...") goes with it. Returns the kept text and the removed sentences."""
    shown = [f"{h.title} {h.date} {h.shown_text}" for h in hits]  # the model sees each passage's title and date too
    known_figures = set().union(*(figures(text) for text in shown))
    known_words = words(question).union(*(words(text) for text in shown))
    kept: list[str] = []
    removed: list[str] = []
    previous = ""
    for s, e in sentence_spans(answer_text):
        sentence = answer_text[s:e]
        claim = _PASSAGE_MENTION.sub("", MARKER.sub("", sentence))  # "as passage 2 says" states no figure
        invented = (figures(claim) - known_figures) or (names(claim) - known_words)
        refers_to_removed = bool(removed) and removed[-1] == previous and bool(_REFERS_BACK.match(claim))
        (removed if invented or refers_to_removed else kept).append(sentence)
        previous = sentence
    return (" ".join(kept), removed) if removed else (answer_text, [])


def drop_headers(answer_text: str, hits: Sequence[Hit]) -> str:
    """Remove passage headings ("Title — date") the model copied from the prompt: they are not claims,
    and a heading's date would pass for the figure a question asks for."""
    for hit in hits:
        if not hit.title:
            continue
        title = re.sub("['’]", lambda _: "['’]", re.escape(hit.title))
        date = rf"(\s*—\s*{re.escape(hit.date)})?" if hit.date else ""
        answer_text = re.sub(title + date, "", answer_text)
    return answer_text


# What a question asks for, and what an answer to it must then contain.
_ASKS_QUANTITY = re.compile(
    r"\bhow (much|many|long|large|big|high|far|often)\b|\bwhat (percentage|percent|share|proportion|fraction|amount|price|number)\b"
    r"|\bby (what|how much)\b",
    re.IGNORECASE,
)
QUANTITY = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|fifty|sixty"
    r"|seventy|eighty|ninety|hundreds?"
    r"|thousands?|millions?|billions?|trillions?|dozens?|half|third|quarter|twice|double|triple|all|none|most|majority"
    r"|minority|fraction|few|several|handful)\b",
    re.IGNORECASE,
)
_ASKS_DATE = re.compile(r"^\s*when\b|\b(in )?what (date|day|year|month)\b|\bwhich (date|day|year|month)\b", re.IGNORECASE)
MONTHS = "|".join(values.MONTHS)
WEEKDAYS = "|".join(values.WEEKDAYS)
DATE = re.compile(
    rf"\b(1[89]\d\ds?|20\d\ds?|{MONTHS}|{WEEKDAYS}|today|yesterday|tomorrow|ago|decades?|century"
    r"|(last|next|this|earlier this|later this) (week|month|year|spring|summer|autumn|fall|winter)"
    r"|(end|beginning|start|middle|close) of (the|this|next|last) (week|month|year|quarter)"
    r"|(within|in|for|after) (\d+|a|one|two|three|four|five|six|several|a few) (days?|weeks?|months?|years?))\b",
    re.IGNORECASE,
)
_WH = re.compile(r"\b(what|when|where|who|whom|which|why|how)\b", re.IGNORECASE)
_ASKS_NAME = re.compile(r"^\s*who\b|\bwhat (is|was|are|were) the names?\b", re.IGNORECASE)
# The word that qualifies a figure standing right after it: "about 75%", never "75%".
HEDGE = re.compile(r"(?:about|around|approximately|roughly|nearly|almost|over|under|some|up to|at least|at most|"
                   r"more than|less than|fewer than)\s+$", re.IGNORECASE)


def _has_new_name(answer_text: str, question: str) -> bool:
    """A capitalised word, not opening a sentence, that the question does not already contain."""
    asked = words(question)
    return any(names(answer_text[s:e]) - asked for s, e in sentence_spans(answer_text))


# "What share of the world's rare earth reserves ...?" against "... 90% of the world's processing capacity".
_ASKS_SHARE = re.compile(
    r"\b(?:percentage|percent|share|proportion|fraction|how much|how many)\s+of\s+((?:[\w'’-]+\s*){1,6})", re.IGNORECASE
)
_STATES_SHARE = re.compile(
    r"(?:\d[\d.,]*\s*(?:%|per ?cent\b|percent\b)|\b(?:nearly|almost|virtually) all|\bhalf|\bthird|\bquarter)"
    r"\s+of\s+((?:[\w'’-]+\s*){1,6})",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"\b(and|but|while|which|that|with|in|from|for|since|as|by|through|to)\b.*", re.IGNORECASE)
# MiniLM cosine; on the dev split shares of the thing asked scored 0.54-0.91, of other things 0.14-0.37
SHARE_MATCH = default("share_match")

Similarity = Callable[[str, list[str]], list[float]]


def share_phrases(question: str, answer_text: str) -> tuple[str, list[str]]:
    """(what the question asks a share of, what the answer states shares of); ('', []) for other questions."""
    asked = _ASKS_SHARE.search(question)
    if not asked:
        return "", []
    return asked.group(1).strip(), [_share_of(m) for m in _STATES_SHARE.finditer(answer_text)]


def _share_of(stated: re.Match) -> str:
    """What a share statement ("90% of the world's processing capacity, and ...") is a share of."""
    return _CLAUSE_END.sub("", stated.group(1)).strip() or stated.group(1).strip()


def shares_at(text: str, start: int, end: int) -> list[str]:
    """What the shares stated in `text` whose figure stands in [start, end) are shares of: a first line
    "nearly 90%" taken from "... nearly 90% of the world's processing capacity" is a share of that."""
    return [_share_of(m) for m in _STATES_SHARE.finditer(text) if start <= m.start() < end or m.start() <= start < m.start(1)]


def asks_for_quantity(question: str) -> bool:
    return bool(_ASKS_QUANTITY.search(question) or _ASKS_SHARE.search(question))


def asks_for_date(question: str) -> bool:
    return bool(_ASKS_DATE.search(question))


def misses_what_was_asked(answer_text: str, question: str, similarity: Similarity | None = None,
                          share_match: float = SHARE_MATCH, shares: Sequence[str] = ()) -> str:
    """'' when the answer holds the kind of thing the question asks for (a quantity, a date, a name);
    else what it lacks. An answer to "how much did Japan invest?" without a single figure, or to
    "when?" without a date, answers something else: small models do that instead of refusing. With
    `similarity` (of a phrase to others), a share of something else than what was asked does not count:
    what the answer states shares of, and `shares`, what its figures are shares of where they stand
    in the passages (`shares_at`)."""
    if len(_WH.findall(question)) > 1:
        return ""  # "what happened, why, and for how long?": a partial answer still helps
    body = MARKER.sub("", answer_text)
    if asks_for_quantity(question) and not QUANTITY.search(re.sub(r"\b(1[89]\d\d|20\d\d)\b", "", body)):
        return "quantity"
    asked, stated = share_phrases(question, body)
    stated = stated + list(shares) if asked else stated
    if similarity and stated and max(similarity(asked, stated)) < share_match:
        return f"share of {asked!r}"
    if asks_for_date(question) and not DATE.search(body):
        return "date"
    # "Who got them: the carmakers or their suppliers?" is answered with the question's own words.
    if _ASKS_NAME.search(question) and " or " not in question and not _has_new_name(body, question):
        return "name"
    return ""


@dataclass(frozen=True)
class Checked:
    text: str  # what stands of the answer ('' when nothing does)
    removed: list[str]  # sentences stating figures or names no passage has
    withheld: str = ""  # the whole answer, when it lacked what the question asks for


def check(answer_text: str, hits: Sequence[Hit], question: str, similarity: Similarity | None = None,
          share_match: float = SHARE_MATCH) -> Checked:
    """Every check above, in order; a refusal passes through untouched."""
    kept, removed = drop_invented(drop_repeats(drop_headers(answer_text, hits), question), hits, question)
    if removed and not _normalise(MARKER.sub("", kept)):
        kept = ""  # only the citation markers of removed sentences are left
    lacking = "" if is_refusal(kept) else misses_what_was_asked(kept, question, similarity, share_match)
    if lacking:
        return Checked("", removed, f"(no {lacking} in it, which the question asks for) {kept}")
    return Checked(kept, removed)
