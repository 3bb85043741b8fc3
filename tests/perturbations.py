"""The perturbation suite of `support.py`: claims made by code from the QA set's evidence sentences
(`eval/rare_earths_qa.jsonl`, field `evidence`), each checked against the passage holding it.

The passage of an evidence quote is its sentences in the cleaned article with `WINDOW` sentences
either side (about what a retrieved chunk and its shown context hold), after the article's title.

True claims (the passage must hold them):
  verbatim   the evidence quote itself
  reordered  the quote's two parts around its first comma swapped ("In April 2025, China suspended ..."
             is "China suspended ..., in April 2025")
  reworded   each sentence of an answerable item's reference `answer` (a rewording of its evidence),
             against the passages of all the item's evidence, with the item's question; a sentence
             stating what those passages do not (`support.missing`: a figure or name they lack, such
             as a document id or a weekday worked out from a date, or too few of its words) is no
             true claim of them and is counted apart, as "unheld"
  verdict+   "Yes, <quote>" (or "No, <quote>" for a quote stating a negation) and the bare "Yes."/"No."
             answering "Is it true that <quote, negation removed>?"
Perturbed claims (the passage must not hold them):
  negated    a negation put in (not / n't / cannot after the first auxiliary, else never before the
             first past-tense verb, else not before the quote) or the quote's own negation taken out
  figure     one figure replaced by a figure of another sentence of the same article (the nearest
             sentence with a figure of the same kind, year or not, that the quote does not state)
  name       one name replaced by a name of another sentence of the same article (the nearest)
  verdict    the verdict+ claims with the verdict flipped, and the reference answers of the set's
             own yes/no items with their "Yes"/"No" flipped

Run it: `python tests/perturbations.py [--split dev|test] [--show KIND]` prints the rates by kind."""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assistant.chunking import sentence_spans
from assistant.answer.citations import figure_spans
from assistant.evaluation.dataset import load_dataset
from assistant.evaluation.metrics import locate_quote
from assistant.answer.grounding import asks_yes_no, yes_no
from assistant.answer.support import missing, unsupported
from assistant.types import Document

REPO = Path(__file__).resolve().parents[1]
QA = REPO / "eval" / "rare_earths_qa.jsonl"
ARTICLES = REPO / "articles"
WINDOW = 2  # sentences either side of the evidence in its passage

TRUE_KINDS = ("verbatim", "reordered", "reworded", "verdict+")
APART = ("unheld",)  # reference sentences their evidence passages do not state: neither true nor perturbed
PERTURBED_KINDS = ("negated", "figure", "name", "verdict")


@dataclass(frozen=True)
class Case:
    item: str
    kind: str
    claim: str
    passage: str
    question: str = ""
    note: str = ""  # how it was made

    @property
    def perturbed(self) -> bool:
        return self.kind in PERTURBED_KINDS


@lru_cache(maxsize=1)
def documents() -> dict[str, Document]:
    from assistant.ingest import load_documents

    return {d.id: d for d in load_documents([ARTICLES])}


def _sentences(doc: Document) -> list[tuple[int, int]]:
    return sentence_spans(doc.text)


def _locate(doc: Document, quote: str) -> tuple[int, int]:
    return locate_quote(quote.replace("\u00a0", " "), doc.text)


def passage(doc: Document, start: int, end: int, window: int = WINDOW) -> str:
    """The sentences of doc overlapping start..end and `window` either side, after its title."""
    spans = _sentences(doc)
    inside = [i for i, (s, e) in enumerate(spans) if s < end and e > start]
    lo, hi = max(0, inside[0] - window), min(len(spans) - 1, inside[-1] + window)
    return f"{doc.title} {doc.text[spans[lo][0]:spans[hi][1]]}"


def _stable(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8], 16)


# -- negation -------------------------------------------------------------------------------------

_AUX = re.compile(r"\b(is|are|was|were|has|have|had|can|could|will|would|should|must|does|do|did)\b(?!\s+not\b|n['’]t)")
_CONTRACTED = {"can": "can't", "will": "won't"}
_PAST = re.compile(r"(?<!\b[Tt]he )(?<!\b[Aa] )(?<!\b[Aa]n )(?<!\bof )(?<!\bbeen )"
                   r"\b([a-z]{3,}ed|said|told|made|took|gave|held|began|became|came|went|met|sent|kept|led|left|found"
                   r"|saw|knew|thought|brought|paid|won|lost|rose|fell|grew|built|spoke|wrote|chose)\b")
_OWN_NEGATION = [  # the first of these the quote holds is taken out
    (re.compile(r"\b(\w+)n['’]t\b(?! (?:only|just|merely|simply)\b)"),
     lambda m: {"ca": "can", "wo": "will"}.get(m.group(1), m.group(1))),
    (re.compile(r"\bcannot\b"), lambda m: "can"),
    (re.compile(r"\b(not|never) (?!only|just|merely|simply)"), lambda m: ""),
    (re.compile(r"\bno (?=\w)"), lambda m: ""),
    (re.compile(r"\bwithout\b"), lambda m: "with"),
    (re.compile(r"\b(failed|fails|fail|refused|refuses|refuse) to\b"), lambda m: "managed to"),
    (re.compile(r"\bunlikely\b"), lambda m: "likely"),
    (re.compile(r"\bunable\b"), lambda m: "able"),
]


def own_negation(text: str) -> re.Match | None:
    return next((m for pattern, _ in _OWN_NEGATION if (m := pattern.search(text))), None)


def unnegated(text: str) -> str:
    """The text with its first negation taken out ('' when it states none)."""
    for pattern, replace in _OWN_NEGATION:
        if pattern.search(text):
            return re.sub(r"\s{2,}", " ", pattern.sub(replace, text, count=1))
    return ""


def negate(text: str, key: str) -> tuple[str, str]:
    """(the text negated, how)."""
    if own := unnegated(text):
        return own, "negation taken out"
    if m := _AUX.search(text):
        aux = m.group(1)
        if _stable(key, "n't") % 2:
            said = _CONTRACTED.get(aux, f"{aux}n't")
        else:
            said = "cannot" if aux == "can" else f"{aux} not"
        return text[:m.start()] + said + text[m.end():], f"{said!r} for {aux!r}"
    if m := _PAST.search(text):
        at = m.start(1)
        return text[:at] + "never " + text[at:], "never before a past tense"
    lead = re.match(r"\W*", text)
    at = lead.end() if lead else 0
    return text[:at] + "not " + text[at:], "not before the quote"


# -- figures and names ----------------------------------------------------------------------------

def _is_year(figure: str) -> bool:
    return bool(re.fullmatch(r"(19|20)\d\d", figure))


def _nearest(doc: Document, start: int, end: int, found) -> tuple[int, str, str] | None:
    """What `found(sentence)` gives for the nearest other sentence of doc that gives something."""
    spans = _sentences(doc)
    inside = [i for i, (s, e) in enumerate(spans) if s < end and e > start]
    order = sorted((i for i in range(len(spans)) if i not in inside), key=lambda i: (min(abs(i - j) for j in inside), i))
    for i in order:
        if not re.search(r"[.!?]['’\"”]?$", doc.text[spans[i][0]:spans[i][1]]):
            continue  # a heading or a caption, not a sentence
        got = found(doc.text[spans[i][0]:spans[i][1]], spans[i][0])
        if got:
            return got
    return None


def swap_figure(text: str, doc: Document, start: int, end: int) -> tuple[str, str]:
    """The first figure of the text replaced by the nearest sentence's figure of the same kind."""
    mine = figure_spans(text)
    if not mine:
        return "", ""
    value, s, e = mine[0]
    stated = {v for v, _, _ in mine}

    def found(sentence: str, at: int):
        for v, fs, fe in figure_spans(sentence):
            if v not in stated and _is_year(v) == _is_year(value):
                return sentence[fs:fe]
        return None

    other = _nearest(doc, start, end, found)
    if not other:
        return "", ""
    return text[:s] + other + text[e:], f"{text[s:e]} -> {other}"


_NAME = re.compile(r"(?<![\w'’.-])[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*")


def names_in(text: str, at: int, doc: Document) -> list[tuple[int, int]]:
    """Runs of capitalised words of the text (found at `at` in doc), less a word opening a sentence
    or a quotation ("The", "In", "They"): the names it states."""
    opens = {s for s, _ in _sentences(doc)}
    out = []
    for m in _NAME.finditer(text):
        s, e = m.span()
        if m.group() == "I":
            continue
        before = doc.text[max(0, at + s - 4):at + s]
        if at + s in opens or re.search(r"(^|[“‘\"\n])\W*$", before):
            rest = re.match(r"\S+\s+", text[s:e])
            if not rest:
                continue
            s += rest.end()
        out.append((s, e))
    return out


def swap_name(text: str, doc: Document, start: int, end: int) -> tuple[str, str]:
    """The first name of the text replaced by the nearest sentence's name the text does not state."""
    mine = names_in(text, start, doc)
    if not mine:
        return "", ""
    s, e = mine[0]
    said = {w.lower() for w in re.findall(r"\w+", text)}

    def found(sentence: str, at: int):
        for ns, ne in names_in(sentence, at, doc):
            name = sentence[ns:ne]
            if not re.fullmatch(r"(?:[A-Z]\.){2,}", name):  # "U.S." keeps its dot, "the United States." not
                name = name.rstrip(".'’")
            if not {w.lower() for w in re.findall(r"\w+", name)} & said:
                return name
        return None

    other = _nearest(doc, start, end, found)
    if not other:
        return "", ""
    return text[:s] + other + text[e:], f"{text[s:e]} -> {other}"


# -- verdicts -------------------------------------------------------------------------------------

def _lower_first(text: str) -> str:
    words = text.split(maxsplit=1)
    if words and words[0][:1].isupper() and words[0][1:].islower() and not re.search(rf"\s{words[0]}\b", text[1:]):
        return text[0].lower() + text[1:]
    return text


def question_of(quote: str) -> str:
    return f"Is it true that {_lower_first(unnegated(quote) or quote).rstrip('.!?')}?"


def flip(answer: str) -> str:
    said, _ = yes_no(answer)
    m = re.match(r"\W*(yes|no|true|false)", answer, re.IGNORECASE)
    assert m
    other = {"yes": "No", "no": "Yes", "true": "False", "false": "True"}[said]
    return answer[:m.start(1)] + other + answer[m.end(1):]


def reordered(quote: str) -> str:
    """The quote's parts before and after its first comma swapped, when each has three words or more."""
    head, _, tail = quote.partition(", ")
    if not tail or len(head.split()) < 3 or len(tail.split()) < 3:
        return ""
    end = re.search(r"[.!?]?['’\"”]?$", tail)
    close = end.group() if end else ""
    tail = tail[:len(tail) - len(close)]
    return f"{tail[0].upper()}{tail[1:]}, {_lower_first(head)}{close}"


# -- the suite ------------------------------------------------------------------------------------

def cases(split: str) -> list[Case]:
    docs = documents()
    out: list[Case] = []
    seen: set[tuple[str, str]] = set()
    for item in load_dataset(QA, split):
        located = []
        for doc_id, quote in zip(item.sources, item.evidence):
            doc = docs[doc_id]
            start, end = _locate(doc, quote)
            located.append((doc, start, end, doc.text[start:end]))
        for doc, start, end, quote in located:
            if (doc.id, quote) in seen:
                continue
            seen.add((doc.id, quote))
            text = passage(doc, start, end)
            key = f"{doc.id}:{quote}"
            out.append(Case(item.id, "verbatim", quote, text))
            if swapped := reordered(quote):
                out.append(Case(item.id, "reordered", swapped, text))
            negated, how = negate(quote, key)
            out.append(Case(item.id, "negated", negated, text, note=how))
            for kind, (claim, how) in (("figure", swap_figure(quote, doc, start, end)),
                                       ("name", swap_name(quote, doc, start, end))):
                if claim:
                    out.append(Case(item.id, kind, claim, text, note=how))
            question = question_of(quote)
            stated = "No" if own_negation(quote) else "Yes"
            for claim in (f"{stated}, {quote}", f"{stated}."):
                out.append(Case(item.id, "verdict+", claim, text, question))
                out.append(Case(item.id, "verdict", flip(claim), text, question, note="flipped"))
        if item.answerable and located:
            text = "\n".join(passage(doc, start, end) for doc, start, end, _ in located)
            answer = item.answer
            for s, e in sentence_spans(answer):
                unheld = missing(answer[s:e], text, item.question)
                out.append(Case(item.id, "unheld" if unheld else "reworded", answer[s:e], text, item.question, unheld))
            if asks_yes_no(item.question) and yes_no(answer)[0]:
                first = answer[slice(*sentence_spans(answer)[0])]
                out.append(Case(item.id, "verdict", flip(first), text, item.question, note="the set's answer, flipped"))
    return out


def run(split: str) -> list[tuple[Case, str]]:
    """Each case of the split with why support.py flags it ('' when it holds)."""
    return [(case, unsupported(case.claim, case.passage, case.question)) for case in cases(split)]


def rates(checked: list[tuple[Case, str]]) -> dict[str, tuple[int, int]]:
    """Per kind: (claims flagged, claims)."""
    out: dict[str, list[int]] = {kind: [0, 0] for kind in (*PERTURBED_KINDS, *TRUE_KINDS, *APART)}
    for case, why in checked:
        out[case.kind][0] += bool(why)
        out[case.kind][1] += 1
    return {kind: (hit, n) for kind, (hit, n) in out.items()}


def share(counts: dict[str, tuple[int, int]], kinds) -> float:
    return sum(counts[k][0] for k in kinds) / max(1, sum(counts[k][1] for k in kinds))


def main(argv: list[str]) -> None:
    splits = [argv[argv.index("--split") + 1]] if "--split" in argv else ["dev", "test"]
    show = argv[argv.index("--show") + 1] if "--show" in argv else ""
    for split in splits:
        checked = run(split)
        counts = rates(checked)
        print(f"{split}: perturbed flagged {share(counts, PERTURBED_KINDS):.3f}, true flagged {share(counts, TRUE_KINDS):.3f}")
        for kind, (hit, n) in counts.items():
            print(f"  {kind:10} {hit:4}/{n:<4} {hit / max(1, n):.3f} flagged")
        for case, why in checked:
            wrong = bool(why) != case.perturbed
            if show == case.kind or (show == "wrong" and wrong):
                print(f"- {'WRONG ' if wrong else ''}{case.kind} {case.item} [{why}] ({case.note}) {case.claim}")


if __name__ == "__main__":
    main(sys.argv[1:])
