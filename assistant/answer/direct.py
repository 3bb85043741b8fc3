"""The first line of an evidence-first answer, made from the evidence.

A reader reads the first line, so it says only what the chosen sentences say and, where they hold
it, all of what the question asks. The model's short answer is located as spans of the shown
sentences (`locate`: the fewest sentences holding its words, figures and names, and in each the
window where they stand); each span is widened over a list it stands in, over the whole name or
figure it stops inside ("President Joe Biden", "600 years"), and to the nearest date,
quantity or name the question asks for that it lacks (`widen`); the first line is the model's own
words when they are a span that already holds every part asked, else the widened spans, each
cited. A yes/no question gets a verdict only where a located sentence states one: the model's
"yes"/"no" is kept when the sentence's negation agrees with it and dropped when it does not.
When the short answer is not in the sentences, the first line invents nothing: `grounded` says
how much of it they hold, and the decision (decision.py) says "not stated plainly" instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from assistant.answer import claims, grounding
from assistant.answer.citations import MARKER, figures
from assistant.lexical import token_spans, tokenize
from assistant.sentences import Sentence

MAX_SENTENCES = 3  # a short answer is located in at most this many sentences
REACH = 25  # words: how far from a span a part the question asks for may stand in its sentence and still be taken in
LINE_WORDS = 45  # a span widened past this many words is cut back to its core


@dataclass(frozen=True)
class Span:
    sentence: Sentence
    start: int  # character offsets in sentence.text
    end: int

    @property
    def text(self) -> str:
        return self.sentence.text[self.start:self.end]


@dataclass(frozen=True)
class Direct:
    text: str  # the first line, each part cited [n]; "" when the answer is not in the sentences
    spans: tuple[Span, ...]  # where it comes from
    grounded: float  # share of the short answer's words, figures and names the spans hold (0..1)
    verdict: str = ""  # "yes"/"no" when the question asks one and a located sentence states it
    missing: tuple[str, ...] = ()  # parts asked (quantity, date, name) that no span holds


# -- what the question asks ----------------------------------------------------------------------

def asked_parts(question: str) -> tuple[str, ...]:
    """The kinds of thing the question asks for, each once: quantity, date, name."""
    parts = []
    if grounding.asks_for_quantity(question):
        parts.append("quantity")
    if grounding.asks_for_date(question) or re.search(r"\b(and|,)\s+when\b|\bsince when\b", question, re.I):
        parts.append("date")
    if re.search(r"(^|\b(and|,)\s+)who\b|\bwho (said|is|was|are|were|leads?|led)\b", question, re.I):
        parts.append("name")
    return tuple(parts)


def holds_part(text: str, part: str, question: str) -> bool:
    if part == "quantity":
        return bool(grounding.QUANTITY.search(re.sub(r"\b(1[89]\d\d|20\d\d)\b", "", text)))
    if part == "date":
        return bool(grounding.DATE.search(text))
    return bool(grounding.names(f"x {text}") - grounding.words(question))


def _part_spans(text: str, part: str, question: str) -> list[tuple[int, int]]:
    """Where in `text` things of that kind stand (a quantity with the hedge before it: "about 75%")."""
    if part == "quantity":
        found = {_snap(text, *m.span()) for m in grounding.QUANTITY.finditer(text)}  # "75%", not "7" and "5"
        found = {(a, b) for a, b in found if not re.fullmatch(r"1[89]\d\d|20\d\d", text[a:b])}
        return sorted(((h.start() if (h := grounding.HEDGE.search(text[:a])) else a), b) for a, b in found)
    if part == "date":
        return [m.span() for m in grounding.DATE.finditer(text)]
    asked = grounding.words(question)
    return [m.span() for m in re.finditer(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*", text)
            if m.start() > 0 and grounding.names(f"x {m.group(0)}") - asked]


# -- locating the short answer -------------------------------------------------------------------

def _terms(text: str) -> set[str]:
    return set(tokenize(text))


@lru_cache(maxsize=1)
def _saying_nothing() -> frozenset[str]:
    """Function words ("he", "its", "said"), which alone in a sentence are not the answer standing
    there; quantifiers ("all", "most", "few") are: "nearly all" is an answer."""
    return frozenset(t for t in claims.function_terms() if not grounding.QUANTITY.fullmatch(t))


def _saying(text: str) -> set[str]:
    """The text's terms that say something of their own."""
    return _terms(text) - _saying_nothing()


def _needs(answer: str) -> tuple[set[str], set[str]]:
    """(content words, figures) of the answer that the evidence must hold."""
    return _saying(answer), figures(answer)


def _window(sentence: str, wanted: set[str], limit: int) -> tuple[int, int, set[str]]:
    """The shortest stretch of the sentence holding the most of `wanted`, at most `limit` words
    long: (start, end, the terms it holds)."""
    tokens = [(stem, a, b) for stem, a, b in token_spans(sentence) if stem in wanted]
    if not tokens:
        return 0, 0, set()
    best: tuple[int, int, int, set[str]] = (0, 0, 0, set())
    for i in range(len(tokens)):
        held: set[str] = set()
        for j in range(i, len(tokens)):
            if len(sentence[tokens[i][1]:tokens[j][2]].split()) > limit:
                break
            held.add(tokens[j][0])
            length = tokens[j][2] - tokens[i][1]
            if len(held) > len(best[3]) or (len(held) == len(best[3]) and length < best[1] - best[0]):
                best = (tokens[i][1], tokens[j][2], length, set(held))
    return best[0], best[1], best[3]


def _parts(answer: str) -> list[str]:
    """The pieces of a short answer that may stand apart in the sentences: "A, B and C", "X; Y"."""
    pieces = re.split(r"\s*(?:;|,\s*(?:and|or)\s+|,|\s+(?:and|or)\s+)\s*", answer)
    return [p for p in (x.strip(" .:'\"“”") for x in pieces) if re.search(r"\w", p)]


def _verbatim(piece: str, sentence: str) -> tuple[int, int] | None:
    """Where the piece stands word for word in the sentence (case, punctuation and spacing aside)."""
    words = re.findall(r"\w+", piece)
    if not words:
        return None
    m = re.search(r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + r"(?!\w)", sentence, re.IGNORECASE)
    return m.span() if m else None


def _weight(text: str) -> int:
    """What a piece of the answer counts for: its content words, figures (twice) and names."""
    return len(_saying(text)) + 2 * len(figures(text)) + len(grounding.names(f"x {text}")) or 1


def locate(answer: str, shown: Sequence[Sentence], chosen: Sequence[Sentence] = (),
           limit: int = MAX_SENTENCES) -> tuple[list[Span], float]:
    """Where the short answer stands in the shown sentences: each of its pieces word for word where
    one holds it (the model's chosen sentences first, then the best scored), the rest by the fewest
    sentences holding their words; one span per sentence. With the share of the answer (by content
    words, figures and names) found."""
    pieces = _parts(answer)
    if not pieces:
        return [], 0.0
    holds = {x.position: sum(bool(_verbatim(p, x.text)) for p in pieces) for x in shown}
    order = sorted(shown, key=lambda x: (-holds[x.position], x not in chosen, -x.score, x.position))
    windows: dict[int, tuple[Sentence, int, int]] = {}  # by position
    found: float = 0.0
    loose: list[str] = []
    for piece in pieces:
        hit = next(((x, at) for x in order if (at := _verbatim(piece, x.text))), None)
        if hit is None:
            loose.append(piece)
            continue
        x, (a, b) = hit
        _, a0, b0 = windows.get(x.position, (x, a, b))
        windows[x.position] = (x, min(a, a0), max(b, b0))
        found += _weight(piece)
    total = sum(_weight(p) for p in pieces)
    if loose:
        rest = " ".join(loose)
        spans, share = _by_words(rest, [x for x in order if x.position not in windows], chosen,
                                 max(0, limit - len(windows)))
        for span in spans:
            windows[span.sentence.position] = (span.sentence, span.start, span.end)
        found += share * _weight(rest)
    spans = [Span(x, a, b) for x, a, b in windows.values()]
    return sorted(spans, key=lambda s: s.sentence.position), min(1.0, found / total)


def _by_words(answer: str, shown: Sequence[Sentence], chosen: Sequence[Sentence], limit: int) -> tuple[list[Span], float]:
    """The fewest sentences that together hold the answer's words, figures and names, each with the
    window where they stand; and the share of them found."""
    terms, numbers = _needs(answer)
    names = grounding.names(f"x {answer}")
    size = len(terms) + 2 * len(numbers) + len(names)
    if not size:
        return [], 0.0
    width = min(LINE_WORDS, max(12, 3 * len(answer.split()) + 8))
    spans: list[Span] = []
    covered: set[str] = set()
    for _ in range(limit):
        best, best_gain, best_held = None, 0, set()
        for sentence in shown:
            if any(s.sentence is sentence for s in spans):
                continue
            start, end, held = _window(sentence.text, terms - covered, width)
            said = sentence.text[start:end] if end else ""
            gain = len(held) + 2 * len((numbers - covered) & figures(said)) + len(
                (names - covered) & grounding.words(said))
            if gain > best_gain or (gain == best_gain and gain and best is not None
                                    and sentence in chosen and best not in chosen):
                best, best_gain, best_held = (sentence, start, end), gain, held
        if best is None or (spans and best_gain == len(best_held) == 1):
            break  # one shared word, no figure or name, does not place a part of the answer in another sentence
        sentence, start, end = best
        spans.append(Span(sentence, start, end))
        said = sentence.text[start:end]
        covered |= best_held | (numbers & figures(said)) | (names & grounding.words(said))
    found = len(covered & terms) + 2 * len(covered & numbers) + len(covered & names)
    return spans, found / size


# -- widening ------------------------------------------------------------------------------------

_LIST_WORD = r"(?!(?:and|or)\b)[\w'’().-]+"
_LIST_ITEM = rf"{_LIST_WORD}(?:\s+{_LIST_WORD}){{0,9}}"
_NEXT_ITEM = re.compile(rf"^,\s*({_LIST_ITEM})")
_LAST_ITEM = re.compile(rf"^(?:,\s*|\s+)(?:and|or)\s+({_LIST_ITEM})(?=[.;:,)]|\s+(?:and|or|all|are|were|is|was)\b|$)")
_ITEM_BEFORE = re.compile(rf"(?<![\w'’().-])({_LIST_ITEM})\s*,\s*$")


_CONJUNCTION_BEFORE = re.compile(r"(?:,\s*|\s+)(?:and|or)\s+$")
_ITEM_AT_END = re.compile(rf"(?<![\w'’().-])({_LIST_ITEM})$")


def _over_list(text: str, start: int, end: int) -> tuple[int, int]:
    """A span inside an enumeration ("A, B, C and D") grows to the whole of it. It is one only when
    it has three items or more and closes with "and"/"or" and an item: commas alone also set off
    clauses ("X, director of Y, told ..."), and "and" alone joins clauses."""
    right, items, closed = end, 1, False
    if (rest := re.match(r"^[^,;:.!?]{0,80}?(?=,|\s+(?:and|or)\s)", text[end:])) and rest.group(0).count(" ") <= 9:
        right = end + rest.end()  # to the end of the item the span stands in
    for _ in range(12):
        if m := _LAST_ITEM.match(text[right:]):
            right, items, closed = right + m.end(), items + 1, True
            break
        if not (m := _NEXT_ITEM.match(text[right:])):
            break
        right, items = right + m.end(), items + 1
    if not closed:
        right, items = end, 1
    left = start
    if closed and (before := re.search(r"(?:,\s*|\s(?:and|or)\s+)([^,;:.!?]{0,80})$", text[:start])) \
            and before.group(1).count(" ") <= 9:
        left = before.start(1)  # back to the start of the item the span stands in
    if not closed and (last := _CONJUNCTION_BEFORE.search(text[:start])):  # the span is the last item
        if m := _ITEM_AT_END.search(text[:last.start()]):
            left, items, closed = m.start(), items + 1, True
    for _ in range(12):
        if not closed or not (m := _ITEM_BEFORE.search(text[:left])):
            break
        left, items = m.start(), items + 1
    return (left, right) if closed and items >= 3 else (start, end)


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """To whole words, without opening or closing punctuation dangling."""
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "'’-$£€"):
        start -= 1
    while end < len(text) and (text[end].isalnum() or text[end] in "'’%-"):
        end += 1
    while start < end and text[start] in " ,;:–—-":
        start += 1
    while end > start and text[end - 1] in " ,;:–—-(":
        end -= 1
    return start, end


_CAPITAL_BEFORE = re.compile(r"(?<![\w'’])([A-Z][\w.&-]*|&)\s+$")  # a capitalised word, not a possessive
_CAPITAL_AFTER = re.compile(r"^\s+([A-Z][\w.&-]*|&)(?![\w'’])")
# Words that open a sentence or clause, capitalised there and never part of a name (stopwords aside).
_OPENERS = frozenset("though although while whereas but yet however still so when after before since as if because "
                     "despite meanwhile also then thus hence instead".split())
_UNIT_AFTER = re.compile(r"^[\s-]+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*s)\b)?")


def _of_a_name(word: str, before: bool = False) -> bool:
    """A capitalised word beside a name is part of it: "&" or a content word, but before it never a
    word that opens a sentence or clause ("The", "In", "Though")."""
    return word == "&" or (bool(tokenize(word)) and not (before and word.lower() in _OPENERS))


def _whole(text: str, start: int, end: int) -> tuple[int, int]:
    """A name or a figure at the span's edge, named whole: a span that starts or ends on a capitalised
    word takes the capitalised words beside it ("Joe Biden" in "President Joe Biden", "San Francisco"
    in "San Francisco Bay Area"; never a function word or a clause's opening word capitalised because
    it opens the sentence: "The", "Though"), and one that ends on a bare number the word it counts
    ("600" -> "600 years", "45" -> "45 working days"; not a code such as "BA.5"). A year or a date
    keeps what it is."""
    if text[start:start + 1].isupper():
        while (m := _CAPITAL_BEFORE.search(text[:start])) and _of_a_name(m.group(1), before=True):
            start = m.start(1)
    if re.search(r"\b[A-Z][\w.&-]*$", text[start:end]):
        while (m := _CAPITAL_AFTER.match(text[end:])) and _of_a_name(m.group(1)):
            end += m.end()
        end = start + len(text[start:end].rstrip(" &"))
    if re.search(r"(?<![\w.,])\d[\d.,]*$", text[start:end]) and not grounding.DATE.search(text[start:end]) \
            and (m := _UNIT_AFTER.match(text[end:])) and tokenize(m.group(1)):
        end += m.end(2 if m.group(2) and not m.group(1).endswith("s") and tokenize(m.group(2)) else 1)
    return start, end


_CLAUSE_MARK = re.compile(r"[;:—–“”\"()]|,\s+(?:but|while|whereas|which|although|though)\b")


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause a span stands in: out to the nearest clause mark on each side (not a comma, which
    also separates list items), unless that makes it longer than LINE_WORDS."""
    left = max((m.end() for m in _CLAUSE_MARK.finditer(text, 0, start)), default=0)
    right = next((m.start() for m in _CLAUSE_MARK.finditer(text, end)), len(text))
    return (left, right) if len(text[left:right].split()) <= LINE_WORDS else (start, end)


def widen(span: Span, question: str, parts: Sequence[str], whole_clause: bool = False) -> tuple[Span, tuple[str, ...]]:
    """The span grown over the list it stands in (with `whole_clause`, to its clause) and to the
    nearest thing of each asked kind it lacks, when that stands within REACH words; (the span, the
    kinds still missing)."""
    text = span.sentence.text
    start, end = _whole(text, *_over_list(text, *_snap(text, span.start, span.end)))
    if negated := _NEGATION_BEFORE.search(text[:start]):  # "not an outright ban", never "outright ban"
        start = negated.start()
    if re.match(r"\d", text[start:]) and (hedge := grounding.HEDGE.search(text[:start])):  # "about 75%", never "75%"
        start = hedge.start()
    if whole_clause:
        start, end = _clause(text, start, end)
    missing = []
    for part in parts:
        if holds_part(text[start:end], part, question):
            continue
        near = [(a, b) for a, b in _part_spans(text, part, question)
                if len(text[min(b, start):max(a, end)].split()) <= REACH]
        if not near:
            missing.append(part)
            continue
        a, b = min(near, key=lambda ab: abs((ab[0] + ab[1]) / 2 - (start + end) / 2))
        start, end = min(start, a), max(end, b)
    start, end = _snap(text, start, end)
    if len(text[start:end].split()) > LINE_WORDS:
        start, end = _snap(text, span.start, span.end)
    return Span(span.sentence, start, end), tuple(missing)


NEGATION = re.compile(  # claims.py's cues, as one pattern
    rf"\b(?:{'|'.join(sorted(claims.NEGATIONS))}|fail(?:s|ed)? to|refus(?:e|es|ed) to|instead of|rather than)\b"
    r"|\w+n['’]t\b", re.IGNORECASE)
# A negation standing before the span in its clause: "will not be used for military purposes" is
# never "military".
_NEGATION_BEFORE = re.compile(rf"(?:{NEGATION.pattern})\s+(?:[^\s,;:.]+\s+){{0,20}}$", re.IGNORECASE)


# -- the verdict ---------------------------------------------------------------------------------


def stated_verdict(question: str, sentence: str) -> str:
    """"yes" or "no" as the sentence states it for a yes/no question: the clause of the sentence
    that shares most of the question's words, negated or not, against the question, negated or not;
    "" when no clause shares at least half of the question's content words."""
    best = _best_clause(question, sentence)
    if _overlap(question, best) < 0.4:
        return ""
    return "yes" if bool(NEGATION.search(best)) == bool(NEGATION.search(question)) else "no"


_CLAUSES = re.compile(r"[;:—–]|,\s(?=\w+\s)|\s(?:but|while|whereas|although|though)\s")


def _overlap(question: str, text: str) -> float:
    """Share of the question's content words (its auxiliary verb aside) the text holds."""
    asked = _terms(re.sub(r"^\W*\w+\s+", "", question))
    return len(asked & _terms(text)) / len(asked) if asked else 0.0


def _best_clause(question: str, sentence: str) -> str:
    """The clause of the sentence sharing most of the question's words."""
    clauses = [c.strip() for c in _CLAUSES.split(sentence) if c and c.strip()]
    return max(clauses, key=lambda c: _overlap(question, c), default=sentence)


# -- the first line ------------------------------------------------------------------------------

def _clean(answer: str) -> str:
    return MARKER.sub("", answer).strip().strip('"“”').strip().rstrip(".;,:")


def first_line(question: str, answer: str, shown: Sequence[Sentence], chosen: Sequence[Sentence] = ()) -> Direct:
    """The direct answer to `question` from the model's short `answer`, built from the shown sentences:
    the model's own words when one sentence holds all of them and they leave out nothing it lists or
    the question asks; else the spans that hold them, widened; else (the sentences hold only part of
    it) the clause that holds most of it."""
    short = _clean(answer)
    wants_verdict = grounding.asks_yes_no(question)
    said_word, rest = grounding.yes_no(short) if wants_verdict else ("", short)  # yes, no, true or false
    said_verdict = {"true": "yes", "false": "no"}.get(said_word, said_word)
    order = sorted(shown, key=lambda x: (x not in chosen, -x.score, x.position))
    one, whole = _by_words(rest, order, chosen, 1) if rest else ([], 0.0)
    spans, grounded = locate(rest, shown, chosen) if rest else ([], 0.0)
    if whole >= grounded:  # one sentence holds as much of it as several do
        spans, grounded = one, whole
    if said_verdict and not rest:  # a bare yes or no: the clause of the best sentence stating it, else of the model's
        stating = [x for x in shown if stated_verdict(question, x.text) == said_verdict]
        about = max(stating, key=lambda x: (x in chosen, x.score), default=None) or (chosen[0] if chosen else None)
        if about is not None:
            clause = _best_clause(question, about.text)
            start = about.text.find(clause)
            spans, grounded = [Span(about, start, start + len(clause))], 1.0
    if not spans:
        return Direct("", (), grounded)
    parts = asked_parts(question)
    widened = [widen(s, question, parts, whole_clause=grounded < 1.0) for s in spans]
    still = [p for p in parts if not any(p not in miss for _, miss in widened)]
    verdict = ""
    if wants_verdict:  # a negation where the question has none, or none where it has one, says "no"; its
        # absence does not say "yes" ("abundant" answers "are they rare?" without a "not")
        stated = {stated_verdict(question, s.sentence.text) for s in spans} - {""}
        verdict = "" if said_verdict == "yes" and "no" in stated else said_verdict
    pieces = [(s.text, f"[{s.sentence.n}]") for s, _ in widened]
    if sum(len(text.split()) for text, _ in pieces) > LINE_WORDS:  # clauses too long for a first line: the
        pieces = [(s.text, f"[{s.sentence.n}]") for s in spans]  # words where the answer stands, no more
    if rest and grounded >= 1.0 and len(spans) == 1 and not _leaves_out(rest, spans[0], widened[0][0]):
        pieces = [(rest, f"[{spans[0].sentence.n}]")]  # the model's own words, which the sentence holds
    if verdict:
        pieces[0] = (f"{said_word.capitalize()}, {pieces[0][0]}", pieces[0][1])
    # As the sentences have it: a first word capitalised here would pass for a name the passage lacks.
    line = " ".join(f"{text.rstrip('.')}. {marks}" for text, marks in pieces)
    return Direct(line, tuple(s for s, _ in widened), grounded, verdict, tuple(still))


def _leaves_out(answer: str, located: Span, widened: Span) -> bool:
    """The sentence says more of what was asked than the answer: the span grew to a part the question
    asks for or over a list, or the answer names some items of a list the sentence gives whole."""
    grew = widened.start < located.start or widened.end > located.end
    return grew or len(_parts(located.text)) > len(_parts(answer))
