"""Reading a claim against its passage for what a bag of words misses: the passage says the
opposite (a negation in one and not the other on the same words; a yes/no verdict that the
claim's own words or the passage answer the other way), or puts another figure or name where the
claim puts this one. Plain text over `lexical`'s words and terms; each text is read once (cached),
so it runs on every answer sentence.

How a text is read: its words in order ("U.S." one word), each with its term (`lexical.terms`:
stemmed, '' for a stopword), its sentence and its clause (clauses end at , ; : ( ) dashes and line
breaks, and before but, while, although, despite, ...), and its kind: a negation cue, a figure, a
name (a capitalised word not opening a sentence or quotation, or opening one but written as a name
elsewhere in the text), a function word (auxiliaries, pronouns, quantifiers, "said"), a stopword,
or a content word. A word is negated when an odd number of cues (not, no, never, n't, cannot, nor,
none, without, unlikely, unable, fail(ed) to, refuse(d) to, instead of, rather than) stand before it
in its clause: "unlikely to cede leverage without reciprocal actions" negates "cede", not
"reciprocal"; "and" or "or" before a verb of its own ("... and is flexing its muscles") opens a new
clause; a cue closing its clause ("how valuable they could not be") negates what comes
before it. "not only/just/merely" is no negation ("not only X but Y" states X), nor is a bound ("no
more than 65%")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.chunking import sentence_spans
from assistant.answer.citations import figure_spans
from assistant.answer.grounding import FINITE, asks_yes_no, yes_no
from assistant.lexical import terms, word_spans
from assistant.settings import default

NEGATIONS = frozenset({"not", "no", "never", "nor", "neither", "none", "nothing", "nobody", "nowhere", "cannot",
                       "without", "unlikely", "unable"})
NEGATING_VERBS = frozenset({"fail", "refus"})  # terms of "failed to", "refuse to"
NEGATING_PAIRS = frozenset({("instead", "of"), ("rather", "than")})  # "rather than a bargaining chip"
NOT_NEGATING = frozenset({"only", "just", "merely", "simply"})  # "not only X but Y" states X
BOUNDS = frozenset({"more", "less", "fewer", "later", "earlier"})  # "no more than 65%" is a bound, not a negation
CLAUSE_WORDS = frozenset({"but", "while", "whereas", "although", "though", "however", "because", "unless", "instead",
                          "despite"})
# "and"/"or" before a verb of its own opens a clause: "unlikely to remove them and is flexing its muscles"
# negates "remove", not "flexing".
COORDINATORS = frozenset({"and", "or"})
# Words that say nothing of their own about what is claimed: auxiliaries, pronouns, verdict words.
FUNCTION_WORDS = """do does did doing done has have had having been being can could would should shall might must am
    were he she his her him we our you your i me my its them those which who whom whose what when where also yes
    true false said say says any some all each every other most much many only even just very so than both
    either""".split()
STATING = ("", "name")  # the kinds of word that say something: content words and names
_CLAUSE_GAP = re.compile(r"[,;:()\[\]!?\n]|\s[-–—]\s|[–—]|\s\s")  # two spaces: where a citation marker was
_OPENING = re.compile(r"[“‘\"]\s*$")  # before a word that opens a quotation
_ACRONYM = re.compile(r"\b(?:[A-Za-z]\.){2,}")  # U.S. is US
_SET_OFF = re.compile(r"\W*\w+\s*(?:[,.;:!–—-]|$)")  # "No," "Yes." "No -": a verdict, not "No more than"

ALIGN_SHARE = default("claim_align_share")  # of a claim's clause a passage sentence must state to be read against it
SLOT_NEIGHBOURS = default("claim_slot_neighbours")  # words either side that place a figure or name in a sentence
VERDICT_COVER = default("claim_verdict_cover")  # share of a question's terms a text must hold to answer it


@lru_cache(maxsize=1)
def function_terms() -> frozenset[str]:
    return frozenset(terms(FUNCTION_WORDS))


@dataclass(frozen=True, eq=False)
class Reading:
    words: tuple[str, ...]  # as written
    terms: tuple[str, ...]  # lexical's term of each word, '' for a stopword
    sentence: tuple[int, ...]
    clause: tuple[int, ...]
    negated: tuple[bool, ...]  # an odd number of negation cues before it in its clause
    kind: tuple[str, ...]  # "cue", "figure", "name", "function", "" (a content word) or "stop"
    figures: tuple[tuple[str, int, int], ...]  # (figure, first word, last word)
    polarity: dict[str, frozenset[bool]]  # each stating word's key: whether it stands negated, in each place
    sentence_polarity: tuple[dict[str, frozenset[bool]], ...]  # the same, in each sentence
    name_terms: frozenset[str]  # terms of the names it states (capitalised words not opening a sentence)

    def content(self, i: int) -> bool:
        return self.kind[i] in STATING


def _cue(words: list[str], term_of: list[str], i: int) -> str:
    """"negation" for a negation cue, "bound" for one negating only the comparative after it ("no
    more than 65%": "more" is negated, not what 65% is of), else ''."""
    w = words[i].lower().replace("’", "'")
    following = words[i + 1].lower() if i + 1 < len(words) else ""
    if w in NEGATIONS or w.endswith("n't"):
        if following in BOUNDS and i + 2 < len(words) and words[i + 2].lower() == "than":
            return "bound"
        return "" if following in NOT_NEGATING else "negation"
    negating = (term_of[i] in NEGATING_VERBS and following == "to") or (w, following) in NEGATING_PAIRS
    return "negation" if negating else ""


def _words(text: str) -> tuple[list[tuple[int, int]], list[str]]:
    """lexical's words and where they stand, an acronym written with dots ("U.S.") as one word ("US")."""
    spans = word_spans(text)
    for m in _ACRONYM.finditer(text):
        inside = [i for i, (s, e) in enumerate(spans) if m.start() <= s < m.end()]
        if inside:
            spans[inside[0]:inside[-1] + 1] = [(m.start(), m.end() - 1)]
    return spans, [text[s:e].replace(".", "") for s, e in spans]


@lru_cache(maxsize=1024)
def read(text: str) -> Reading:
    spans, words = _words(text)
    term_of = terms(words)
    starts = [s for s, _ in sentence_spans(text)] or [0]
    figure_words: dict[int, int] = {}
    found: list[tuple[str, int, int]] = []
    w = 0
    for value, start, end in figure_spans(text):
        while w < len(spans) and spans[w][1] <= start:
            w += 1
        first = w
        while w < len(spans) and spans[w][0] < end:
            figure_words[w] = len(found)
            w += 1
        if w > first:
            found.append((value, first, w - 1))
    function = function_terms()
    sentence, clause, negated, kind = [], [], [], []
    s = c = 0
    parity = bound = False
    for i, (start, end) in enumerate(spans):
        new_sentence = s + 1 < len(starts) and start >= starts[s + 1]
        while s + 1 < len(starts) and start >= starts[s + 1]:
            s += 1
        gap = text[spans[i - 1][1]:start] if i else ""
        word = words[i].lower()
        coordinated = word in COORDINATORS and i + 1 < len(words) and words[i + 1].lower() in FINITE
        if i and (new_sentence or _CLAUSE_GAP.search(gap) or word in CLAUSE_WORDS or coordinated):
            c += 1
            parity = False
        first_of_sentence = i == 0 or new_sentence or bool(_OPENING.search(gap))
        cue = _cue(words, term_of, i)
        if cue:
            k = "cue"
        elif bound:
            k = ""  # the comparative of a bound: compared as a content word
        elif i in figure_words:
            k = "figure"
        elif not term_of[i]:
            k = "stop"
        elif term_of[i] in function:
            k = "function"
        elif words[i][0].isupper() and not first_of_sentence:
            k = "name"
        else:
            k = ""
        sentence.append(s)
        clause.append(c)
        negated.append(not cue and parity != bound)
        kind.append(k)
        parity ^= cue == "negation"
        bound = cue == "bound"
    # A sentence's first word is a name when the text writes it as one elsewhere ("China ... . ..., China").
    name_terms = frozenset(t for t, k in zip(term_of, kind) if k == "name")
    for i, (t, k) in enumerate(zip(term_of, kind)):
        if k == "" and t in name_terms and words[i][:1].isupper():
            kind[i] = "name"
    # A negation closing its clause ("how valuable rare earths could not be", "Andersson never said")
    # negates what comes before it.
    for i, k in enumerate(kind):
        if k == "cue" and not any(kind[j] in STATING for j in range(i + 1, len(kind)) if clause[j] == clause[i]):
            for j in range(i - 1, -1, -1):
                if clause[j] != clause[i]:
                    break
                negated[j] = not negated[j]
    polarity: list[dict[str, set[bool]]] = [{} for _ in range(s + 1)]
    for t, k, n, at in zip(term_of, kind, negated, sentence):
        if k in STATING:
            polarity[at].setdefault(_key(t, k), set()).add(n)
    whole: dict[str, set[bool]] = {}
    for one in polarity:
        for t, v in one.items():
            whole.setdefault(t, set()).update(v)
    return Reading(tuple(words), tuple(term_of), tuple(sentence), tuple(clause), tuple(negated), tuple(kind),
                   tuple(found), _frozen(whole), tuple(_frozen(one) for one in polarity), name_terms)


def _key(term: str, kind: str) -> str:
    """What a word is compared by: its term, a name's apart ("Rare Earth Exchanges" is not "rare earths")."""
    return f"{term}^" if kind == "name" else term


def _frozen(polarity: dict[str, set[bool]]) -> dict[str, frozenset[bool]]:
    return {t: frozenset(v) for t, v in polarity.items()}


# -- what the passage says the opposite of -------------------------------------------------------

def _segments(claim: Reading, least: int = 3) -> list[list[int]]:
    """The claim's words by clause, a clause stating fewer than `least` terms joined to the one before
    (the first to the one after): "which are critical minerals | but rare earths" is one statement."""
    clauses: dict[int, list[int]] = {}
    for i, c in enumerate(claim.clause):
        clauses.setdefault(c, []).append(i)
    out: list[list[int]] = []
    for words in clauses.values():
        stated = {claim.terms[i] for i in words if claim.content(i)}
        if out and (len(stated) < least or len({claim.terms[i] for i in out[-1] if claim.content(i)}) < least):
            out[-1] += words
        else:
            out.append(list(words))
    return out


def _aligned(terms: set[str], passage: Reading, share: float = ALIGN_SHARE) -> list[int]:
    """The passage's sentences sharing the most of these terms (at least `share` of them, and two)."""
    shared = [len(terms & set(one)) for one in passage.sentence_polarity]
    best = max(shared, default=0)
    return [n for n, k in enumerate(shared) if k == best] if best >= max(2, share * len(terms)) else []


def negation(claim: Reading, passage: Reading) -> str:
    """A word the claim states negated that the passage states only un-negated, or the reverse: in the
    whole passage, or in the sentences of it that state most of the claim's clause (where "critical
    minerals but not rare earths" stands, "rare earths" elsewhere in the passage does not make
    "critical minerals but rare earths" true)."""
    for words in _segments(claim):
        terms = {_key(claim.terms[i], claim.kind[i]) for i in words if claim.content(i)}
        readings = [passage.polarity] + [passage.sentence_polarity[n] for n in _aligned(terms, passage)]
        for i in words:
            t = _key(claim.terms[i], claim.kind[i])
            if claim.content(i) and any(t in said and claim.negated[i] not in said[t] for said in readings):
                return f"{'negated' if claim.negated[i] else 'stated'} {claim.words[i]!r}, which the passage " \
                       f"{'states' if claim.negated[i] else 'negates'}"
    return ""


def _name_runs(claim: Reading, also: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """(first, last) word of each run of names in a clause; a capitalised word whose term is in `also`
    counts as a name too (a claim's first word that the passage writes as a name)."""
    runs: list[tuple[int, int]] = []
    for i, k in enumerate(claim.kind):
        if k == "name" or (k == "" and claim.terms[i] in also and claim.words[i][:1].isupper()):
            if runs and runs[-1][1] == i - 1 and claim.clause[i - 1] == claim.clause[i]:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((i, i))
    return runs


def _side(r: Reading, start: int, step: int, sentence: int, n: int) -> tuple[str, ...]:
    """The terms of the n nearest words from `start` on (step -1: leftwards) in the sentence that say
    something (content words, names, figures)."""
    out: list[str] = []
    while 0 <= start < len(r.terms) and r.sentence[start] == sentence and len(out) < n:
        if r.kind[start] in ("", "name", "figure"):
            out.append(r.terms[start])
        start += step
    return tuple(out)


def _slots(r: Reading, names: frozenset[str] = frozenset()) -> list[tuple[bool, frozenset[str], int, int]]:
    """(a figure?, what stands there, first word, last word) of each figure (its value) and run of names (its terms)."""
    return [*((True, frozenset({v}), f, la) for v, f, la in r.figures),
            *((False, frozenset(r.terms[first:last + 1]), first, last) for first, last in _name_runs(r, names))]


def _same(number: bool, a: frozenset[str], b: frozenset[str]) -> bool:
    """One figure, or names sharing a word ("Dr. Michael Thompson", "Thompson") or abbreviated ("US", "USA")."""
    return bool(a & b) or (not number and any(x.startswith(y) or y.startswith(x) for x in a for y in b))


def swapped(claim: Reading, passage: Reading, n: int = SLOT_NEIGHBOURS) -> str:
    """A figure or name of the claim where the passage, between the same neighbours, has another one
    and nowhere this one: "for 90% of US rare earth imports" against "for 70% of US rare earth
    imports". The neighbours are the n nearest words either side that say something (content words,
    names, figures), in the sentence; a figure or name opening or closing the claim's sentence is
    placed by the n + 1 words on its other side."""
    def sides(r: Reading, first: int, last: int, n: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return _side(r, first - 1, -1, r.sentence[first], n), _side(r, last + 1, 1, r.sentence[first], n)

    slots = [(number, what, sides(passage, f, la, n + 1)) for number, what, f, la in _slots(passage)]
    for number, what, first, last in _slots(claim, passage.name_terms):
        left, right = sides(claim, first, last, n + 1)
        if left and right:
            left, right = left[:n], right[:n]
        elif len(left) + len(right) <= n:
            continue
        there = [other for kind, other, (pl, pr) in slots
                 if kind == number and pl[:len(left)] == left and pr[:len(right)] == right]
        if there and not any(_same(number, what, other) for other in there):
            return f"the passage has {' '.join(sorted(there[0]))} where the claim has {' '.join(sorted(what))}"
    return ""


# -- yes/no verdicts -----------------------------------------------------------------------------

def _answers(question: Reading, text: Reading, cover: float) -> str:
    """"no" when the text holds at least `cover` of the question's terms and states one of them the
    other way (negated where the question is not, or the reverse); "yes" when it holds all of them
    and states none the other way; else '' (it does not say)."""
    asked = {t for i, t in enumerate(question.terms) if question.content(i)}
    held = {t for i, t in enumerate(text.terms) if text.content(i)}
    if not asked or len(asked & held) < cover * len(asked):
        return ""
    said = text.polarity
    for i, t in enumerate(question.terms):
        key = _key(t, question.kind[i])
        if question.content(i) and key in said and question.negated[i] not in said[key]:
            return "no"
    return "yes" if asked <= held else ""


def _windows(passage: str) -> list[str]:
    """Each sentence of the passage and each two neighbouring ones (a claim can span two)."""
    spans = sentence_spans(passage)
    return [passage[s:e] for s, e in spans] + [passage[a[0]:b[1]] for a, b in zip(spans, spans[1:])]


def _verdict(sentence: str) -> tuple[str, str]:
    """("yes"/"no", what follows) for a sentence opening with a verdict set off from the rest ("No,",
    "Yes."; not "No more than 65% ..."); ("", sentence) otherwise."""
    said, rest = yes_no(sentence)
    if not said or not _SET_OFF.match(sentence):
        return "", sentence
    return ("yes" if said in ("yes", "true") else "no"), rest


def verdict(sentence: str, passage: str, question: str, cover: float = VERDICT_COVER) -> str:
    """A leading yes/no that the sentence's own words, or else the passage, answer the other way."""
    said, rest = _verdict(sentence)
    if not said or not asks_yes_no(question):
        return ""
    asked = read(question)
    stated = _answers(asked, read(rest), cover) if rest else ""
    if stated:
        return f"answers {said!r} where what it states says {stated!r}" if stated != said else ""
    answers = {a for a in (_answers(asked, read(w), cover) for w in _windows(passage)) if a}
    stated = answers.pop() if len(answers) == 1 else ""  # sentences that disagree settle nothing
    return f"answers {said!r} where the passage says {stated!r}" if stated and stated != said else ""


def conflict(sentence: str, passage: str, question: str = "") -> str:
    """What the passage says against the sentence ('' when nothing): a flipped verdict, a negation,
    another figure or name where the sentence has this one."""
    found = verdict(sentence, passage, question)
    if found:
        return found
    claim, text = read(_verdict(sentence)[1]), read(passage)
    return negation(claim, text) or swapped(claim, text)
