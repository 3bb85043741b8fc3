"""The ways of answering, chosen by the `strategy` setting (auto: the backend's own `strategy`):

- `select` (evidence-first): the model is shown the best passage sentences, numbered, and answers
  in JSON under a schema: the numbers of the sentences that state the answer (or none) and a short
  answer taken from them. The answer is composed in code: the short answer, then the sentences it
  rests on, each cited. How sure the model was that no sentence answers is read from its own
  probabilities at the point where it opens the list (`p_none`), and a selection that lacks what the
  question asks for (a quantity, a date, a name) is no answer. With `verify_answers` the model is
  asked a second time whether the sentences state its answer (`verify`, `p_verified`).
- `free`: the model writes prose with [n] markers, streamed as it comes; `grounding` checks it.
- `extractive`: no model; the best-matching sentences are quoted.

Each returns a `Draft`; the pipeline then resolves the citations and checks every claim's support.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant import grounding, stages
from assistant.citations import MARKER, figures
from assistant.errors import ConfigError
from assistant.llms import Request
from assistant.prompts import REFUSAL, load_template
from assistant.sentences import Sentence, best
from assistant.settings import Settings
from assistant.types import Hit

STRATEGIES = ("select", "free", "extractive")


@dataclass(frozen=True)
class Draft:
    text: str  # with [n] markers; REFUSAL when there is no answer
    usage: dict = field(default_factory=dict)
    removed: tuple[str, ...] = ()  # sentences dropped for stating what no passage holds
    withheld: str = ""  # an answer held back (then refused), and why
    streamed: bool = False  # on_text already received the model's text as it came
    selection: dict = field(default_factory=dict)  # select: what the model chose, and p_none


def choose(settings: Settings, llm) -> str:
    """The strategy to use: the setting, or the backend's own (`strategy` attribute) for auto."""
    name = settings.strategy if settings.strategy != "auto" else getattr(llm, "strategy", "free")
    if name not in STRATEGIES:
        raise ConfigError(f"unknown answer strategy {name!r}; choose one of: {', '.join(STRATEGIES)}, auto")
    if name != "extractive" and not getattr(llm, "writes", True):
        raise ConfigError(f"the {llm.name} backend has no language model; use --strategy extractive")
    return name


def neutralise(text: str) -> str:
    """Passage text as data: citation markers in an article ("[1]") would pass for ours."""
    return MARKER.sub(lambda m: f"({m.group(1)})", text)


# -- evidence-first -----------------------------------------------------------------------------

def number_sentences(sentences: Sequence[Sentence], hits: Sequence[Hit]) -> str:
    """The sentences numbered 1..N under their passage's title and date."""
    lines, heading = [], None
    for i, s in enumerate(sentences, 1):
        hit = hits[s.n - 1]
        head = " — ".join(x for x in (neutralise(hit.title), hit.date) if x) or f"passage {s.n}"
        if head != heading:
            lines.append(f"From: {head}")
            heading = head
        lines.append(f"({i}) {neutralise(s.text)}")
    return "\n".join(lines)


def schema(count: int, max_items: int) -> dict:
    return {
        "type": "object",
        "properties": {
            "evidence": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": count},
                         "maxItems": max_items},
            "answer": {"type": "string", "maxLength": 300},
        },
        "required": ["evidence", "answer"],
    }


def parse_selection(text: str, count: int) -> tuple[list[int], str]:
    """(sentence numbers, short answer) from the model's JSON; lenient with servers that add prose."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        data = json.loads(match.group(0)) if match else {}
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    raw = data.get("evidence")
    raw = raw if isinstance(raw, list) else []
    numbers = [int(x) for x in raw if isinstance(x, (int, float, str)) and str(x).strip().isdigit()]
    picked = list(dict.fromkeys(n for n in numbers if 1 <= n <= count))
    answer = data.get("answer")
    return picked, answer.strip() if isinstance(answer, str) else ""


_OPEN_LIST = re.compile(r'"evidence"\s*:\s*\[?\s*$')


def _masses(alternatives: dict[str, float], opened: bool) -> tuple[float, float, float]:
    """(empty, some, undecided) probability mass: the list closed at once, a number begun, or (before
    the bracket) a bare "[" that leaves the choice to the next step."""
    empty = some = bare = 0.0
    for token, logprob in alternatives.items():
        t = token.strip()
        if not opened:
            if not t.startswith("["):
                continue
            t = t[1:].lstrip()
            if not t:
                bare += math.exp(logprob)
                continue
        if t.startswith("]"):
            empty += math.exp(logprob)
        elif t[:1].isdigit():
            some += math.exp(logprob)
    return empty, some, bare


def p_none(steps: Sequence[tuple[str, dict[str, float]]]) -> float | None:
    """The model's probability that no sentence answers, read where the evidence list opens: the
    mass on closing it at once ("[]" or "]") against the mass on a number; a bare "[" passes the
    choice to the next step. None when the backend reported no alternatives there."""
    text = ""
    pending: tuple[float, float, float] | None = None  # the masses before a bare "["
    for chosen, alternatives in steps:
        if alternatives and _OPEN_LIST.search(text):
            opened = text.rstrip().endswith("[")
            empty, some, bare = _masses(alternatives, opened)
            if opened:
                inner = empty / (empty + some) if empty + some > 0 else None
                if pending is None:
                    return inner
                e0, s0, b0 = pending
                if inner is None:
                    return e0 / (e0 + s0) if e0 + s0 > 0 else None
                total = e0 + s0 + b0  # nothing on "[" before: the bracket's own step decides
                return (e0 + b0 * inner) / total if total > 0 else inner
            if chosen.strip() != "[" and chosen.strip().startswith("["):  # decided in this one token; a bare
                total = empty + some + bare  # "[" not taken is counted as opening a non-empty list
                return empty / total if total > 0 else None
            pending = (empty, some, bare)
        text += chosen
    return None


def _content(text: str) -> set[str]:
    from assistant.lexical import tokenize

    return set(tokenize(text))


def short_answer(answer: str, question: str, shown: Sequence[Sentence], trusted: bool = False) -> str:
    """The model's short answer, cleaned; '' when it is a refusal or (unless `trusted`: the model
    confirmed it when asked again) says nothing that the question does not and the shown sentences
    do ("The name of the official is [1].")."""
    answer = MARKER.sub("", answer).strip().strip('"').strip()
    if not answer or grounding.is_refusal(answer) or grounding.says_not_found(answer):
        return ""
    if trusted:
        return answer
    if grounding.asks_yes_no(question) and grounding.yes_no(answer)[0]:
        return answer  # "Did they ...?" "Yes": the sentences it rests on say the rest
    said = " ".join(s.text for s in shown)
    news = (_content(answer) & _content(said)) - _content(question) or figures(answer) & figures(said)
    if not news and " or " not in question:  # "X or Y?" is answered in the question's own words
        return ""
    return answer


def compose(short: str, selected: Sequence[Sentence]) -> str:
    """The short answer cited to the selected sentences that hold its words, then those sentences, each cited."""
    ordered = sorted(selected, key=lambda s: s.position)
    parts = []
    if short:
        terms = _content(short)
        holding = [s.n for s in ordered if terms & _content(s.text)] or [ordered[0].n]
        marks = "".join(f"[{n}]" for n in dict.fromkeys(holding))
        parts.append(f"{short.rstrip('.')}. {marks}")
    parts += [f"“{s.text}” [{s.n}]" for s in ordered]
    return "\n".join(parts)


def select(assistant, question: str, hits: Sequence[Hit], ranked: Callable[[], list[Sentence]],
           on_text: Callable[[str], None] | None = None) -> Draft:
    s = assistant.settings
    candidates = ranked()
    if not candidates or candidates[0].score < s.answerable_threshold:  # nothing near the question: not asked
        return Draft(REFUSAL, selection={"best_score": candidates[0].score if candidates else None})
    shown = best(candidates, s.prompt_sentences or 12, s.sentence_passage_prior)
    template = load_template(s.select_prompt, "select")
    request = Request(
        messages=template.messages(sentences=number_sentences(shown, hits), question=question), question=question,
        max_tokens=s.select_max_tokens, temperature=s.temperature,
        schema=schema(len(shown), s.select_max_evidence), top_logprobs=s.select_top_logprobs,
    )
    stages.report("reading", sentences=len(shown))
    completion = assistant.llm.generate(request)
    usage = {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens}
    picked, answer = parse_selection(completion.text, len(shown))
    none = p_none(completion.steps)
    yes = verify(assistant.llm, question, shown, hits, picked, answer, s) if picked and answer else None
    selection = {"evidence": picked, "answer": answer, "p_none": none, "p_verified": yes, "shown": len(shown),
                 "best_score": candidates[0].score}
    draft = decide(question, shown, picked, answer, none, s, assistant.similarity,
                   doc_of={n: h.chunk.doc_id for n, h in enumerate(hits, 1)}, verified=yes)
    return Draft(draft.text, usage, withheld=draft.withheld, selection=selection)


VERDICT_SCHEMA = {"type": "object", "properties": {"verdict": {"type": "string", "enum": ["yes", "no"]}},
                  "required": ["verdict"]}


def verify(llm, question: str, shown: Sequence[Sentence], hits: Sequence[Hit], picked: Sequence[int], answer: str,
           s: Settings) -> float | None:
    """A second, independent question to the model: do the sentences state that its answer is the
    answer to this question (and not to a neighbouring one)? The probability it gives "yes", read
    from its own logits; None when not asked (`verify_answers` off) or the backend reports none.
    The prompt opens as the selection prompt does, so llama.cpp reuses what it already read."""
    if not s.verify_answers or not s.select_top_logprobs:
        return None
    template = load_template(s.verify_prompt, "verify")
    request = Request(
        messages=template.messages(sentences=number_sentences(shown, hits), question=question,
                                   answer=MARKER.sub("", answer).strip(), evidence=", ".join(map(str, picked))),
        question=question, max_tokens=8, temperature=0.0, schema=VERDICT_SCHEMA, top_logprobs=s.select_top_logprobs,
    )
    return p_yes(llm.generate(request).steps)


def p_yes(steps: Sequence[tuple[str, dict[str, float]]]) -> float | None:
    """The model's probability of "yes" against "no" at the step where it gave its verdict."""
    for chosen, alternatives in steps:
        if not _VERDICT.fullmatch(chosen.strip(' "\'').lower()):
            continue
        mass = {"yes": 0.0, "no": 0.0}
        for token, logprob in alternatives.items():
            word = _VERDICT.fullmatch(token.strip(' "\'').lower())
            if word:
                mass[word.group(1)] += math.exp(logprob)
        total = mass["yes"] + mass["no"]
        return mass["yes"] / total if total > 0 else None
    return None


_VERDICT = re.compile(r"(yes|no)")


def decide(question: str, shown: Sequence[Sentence], picked: Sequence[int], answer: str, none: float | None,
           s: Settings, similarity=None, doc_of: dict[int, str] | None = None,
           verified: float | None = None) -> Draft:
    """The answer from what the model chose: its short answer, attributed in code to the shown
    sentences that hold it (a 1.5B model answers well but numbers sentences badly), then those
    sentences, the best sentence of each other article close to the best, and the best shown
    sentence not yet quoted when it is close to the best (`select_best_margin`). Refused when it
    chose nothing, was sure nothing answers, did not confirm its answer when asked again
    (`verified`, with `verify_answers`), added nothing from the sentences to the question, said
    what no sentence holds, or the sentences lack the quantity, date or name asked (these last
    shape checks stand down for an answer confirmed with p >= `verify_trust_p_yes`)."""
    if not picked:
        return Draft(REFUSAL, withheld="(the model chose no sentence)")
    if none is not None and none >= s.select_refuse_p_none:
        return Draft(REFUSAL, withheld=f"(the model gave p={none:.2f} that no sentence answers) {answer}")
    if verified is not None and verified < s.verify_min_p_yes:
        return Draft(REFUSAL, withheld=f"(asked again, the model gave p={verified:.2f} that this answers) {answer}")
    chosen = [shown[i - 1] for i in picked]
    trusted = verified is not None and verified >= s.verify_trust_p_yes  # confirmed: the shape checks stand down
    short = short_answer(answer, question, shown, trusted)
    if not short:
        return Draft(REFUSAL, withheld=f"(the model's answer adds nothing from the sentences to what the question says) {answer}")
    verdict, rest = grounding.yes_no(short) if grounding.asks_yes_no(question) else ("", short)
    if verdict and not _content(rest):  # a bare "Yes": the sentences the model chose
        evidence = sorted(chosen[:s.select_max_evidence], key=lambda x: x.position)
    else:
        evidence = attribute(rest, shown, chosen, question, s.support_min_overlap, s.select_max_evidence)
    if not evidence:
        return Draft(REFUSAL, withheld=f"(no shown sentence holds the model's answer) {answer}")
    evidence = evidence + other_articles(evidence, shown, doc_of or {}, s.select_other_articles)
    evidence = evidence + best_unquoted(evidence, shown, s.select_best_margin)
    text = compose(short, evidence)
    # The direct answer itself must hold what was asked: a quantity, a date, a name.
    lacking = "" if trusted else (grounding.misses_what_was_asked(short, question) or grounding.misses_what_was_asked(
        text, question, similarity, s.share_match))
    if lacking:
        return Draft(REFUSAL, withheld=f"(no {lacking} in it, which the question asks for) {text}")
    return Draft(text)


def other_articles(evidence: Sequence[Sentence], shown: Sequence[Sentence], doc_of: dict[int, str],
                   margin: float) -> list[Sentence]:
    """Questions often need more than one article: the best shown sentence of each article the
    evidence does not come from, when it scores within `margin` of the best shown sentence."""
    if margin <= 0 or not shown:
        return []
    top = max(x.score for x in shown)
    have = {doc_of.get(x.n) for x in evidence}
    added: dict[str | None, Sentence] = {}
    for x in sorted(shown, key=lambda x: -x.score):
        doc = doc_of.get(x.n)
        if x.score < top - margin:
            break
        if doc not in have and doc not in added:
            added[doc] = x
    return list(added.values())


def best_unquoted(evidence: Sequence[Sentence], shown: Sequence[Sentence], margin: float) -> list[Sentence]:
    """The best shown sentence that the evidence does not quote, when it scores within `margin` of
    the best shown sentence (0 = never): a 1.5B model often picks a neighbour of the sentence that
    answers, and the reader then has that one too."""
    if margin <= 0:
        return []
    have = {x.text for x in evidence}
    rest = [x for x in shown if x.text not in have]
    if not rest:
        return []
    top, candidate = max(x.score for x in shown), max(rest, key=lambda x: (x.score, -x.position))
    return [candidate] if candidate.score >= top - margin else []


def attribute(short: str, shown: Sequence[Sentence], chosen: Sequence[Sentence], question: str,
              min_overlap: float, limit: int) -> list[Sentence]:
    """The fewest shown sentences (at most `limit`) that together hold the short answer, by how much
    of it each holds, the model's own choices first among equals; [] when no such set exists."""
    from assistant import support

    terms, numbers = _content(short), figures(short)
    names = support.capitalised(short) - grounding.words(question)

    def gain(sentence: Sentence, covered: set[str]) -> int:
        words = _content(sentence.text) | grounding.words(sentence.text)
        return len((terms | names) & words - covered) + 2 * len(numbers & figures(sentence.text) - covered)

    picked: list[Sentence] = []
    covered: set[str] = set()
    while len(picked) < limit:
        best_gain, best_one = max(((gain(x, covered), x) for x in shown if x not in picked),
                                  key=lambda g: (g[0], g[1] in chosen, -g[1].position), default=(0, None))
        if best_one is None or best_gain <= 0:
            break
        picked.append(best_one)
        covered |= (_content(best_one.text) | grounding.words(best_one.text) | figures(best_one.text))
        if support.holds(short, " ".join(x.text for x in picked), question, min_overlap):
            return sorted(picked, key=lambda x: x.position)
    return []


# -- no model ------------------------------------------------------------------------------------

def extractive(assistant, question: str, hits: Sequence[Hit], ranked: Callable[[], list[Sentence]],
               on_text: Callable[[str], None] | None = None) -> Draft:
    """The best sentences within `extractive_margin` of the best one, when it reaches the threshold."""
    s = assistant.settings
    candidates = ranked()
    if not candidates or candidates[0].score < s.extractive_threshold:
        return Draft(REFUSAL)
    floor = max(s.extractive_threshold, candidates[0].score - s.extractive_margin)
    picked: list[Sentence] = []
    for sentence in candidates:
        if len(picked) >= s.extractive_sentences or sentence.score < floor:
            break
        if all(sentence.text != p.text for p in picked):  # overlapping chunks repeat sentences
            picked.append(sentence)
    text = " ".join(f"{p.text} [{p.n}]" for p in picked)
    lacking = grounding.misses_what_was_asked(text, question, assistant.similarity, s.share_match)
    if lacking:
        return Draft(REFUSAL, withheld=f"(no {lacking} in it, which the question asks for) {text}")
    return Draft(text)


# -- free generation -----------------------------------------------------------------------------

def format_passages(hits: Sequence[Hit], only: dict[int, list[str]] | None = None) -> str:
    """Numbered passages for the prompt; with `only`, just those sentences of those passages."""
    blocks = []
    for n, hit in enumerate(hits, 1):
        if only is not None and n not in only:
            continue
        body = " ".join(only[n]) if only is not None else neutralise(hit.shown_text)
        head = " — ".join(x for x in (neutralise(hit.title), hit.date) if x)
        blocks.append(f"[{n}] {head}\n{body}" if head else f"[{n}] {body}")
    return "\n\n".join(blocks)



def free(assistant, question: str, hits: Sequence[Hit], ranked: Callable[[], list[Sentence]],
         on_text: Callable[[str], None] | None = None) -> Draft:
    """Prose with [n] markers, streamed; the model sees the best `prompt_sentences` sentences under
    their passage numbers (0 = whole passages). A question no sentence matches is refused unasked."""
    s = assistant.settings
    only: dict[int, list[str]] | None = None
    if s.answerable_threshold > 0 or s.prompt_sentences:
        sentences = ranked()
        if not sentences or sentences[0].score < s.answerable_threshold:
            return Draft(REFUSAL)
        if s.prompt_sentences:
            only = {}
            for sentence in best(sentences, s.prompt_sentences, s.sentence_passage_prior):
                only.setdefault(sentence.n, []).append(neutralise(sentence.text))
    messages = assistant.template.messages(passages=format_passages(hits, only), question=question, refusal=REFUSAL)
    request = Request(messages=messages, question=question,
                      passages=tuple((n, h.shown_text) for n, h in enumerate(hits, 1)),
                      max_tokens=s.max_tokens, temperature=s.temperature)
    stages.report("reading", passages=len(hits) if only is None else len(only))
    completion = assistant.llm.generate(request, on_text)
    usage = {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens}
    checked = grounding.check(completion.text, hits, question, assistant.similarity, s.share_match)
    return Draft(checked.text if checked.text.strip() else REFUSAL, usage, tuple(checked.removed), checked.withheld,
                 streamed=True)


RUN = {"select": select, "free": free, "extractive": extractive}
