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

import dataclasses
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant import stages
from assistant.answer import decision, direct, grounding
from assistant.answer.decision import ANSWER, NOT_STATED, REFUSE, Calibrator, Signals
from assistant.answer.citations import MARKER, figures
from assistant.errors import ConfigError
from assistant.lexical import tokenize
from assistant.llms import Request
from assistant.llms.base import Step
from assistant.prompts import REFUSAL, load_template
from assistant.sentences import Sentence, shown as sentences_shown
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
    decision: str = ""  # select: answer, not_stated or refuse (decision.py); "" for the other strategies
    confidence: float | None = None  # select: the decision's probability that the first line is right
    signals: dict = field(default_factory=dict)  # select: what the decision read
    first_line: str | None = None  # select: the first line the decision weighed, given or not


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
    return set(tokenize(text))


def select(assistant, question: str, hits: Sequence[Hit], ranked: Callable[[], list[Sentence]],
           on_text: Callable[[str], None] | None = None) -> Draft:
    s = assistant.settings
    candidates = ranked()
    if not candidates or candidates[0].score < s.answerable_threshold:  # nothing near the question: not asked
        return Draft(REFUSAL, selection={"best_score": candidates[0].score if candidates else None})
    shown = sentences_shown(candidates, s)
    template = load_template(s.select_prompt, "select")
    request = Request(
        messages=template.messages(sentences=number_sentences(shown, hits), question=question), question=question,
        passages=tuple((i, x.text) for i, x in enumerate(shown, 1)), max_tokens=s.select_max_tokens, temperature=s.temperature,
        schema=schema(len(shown), s.select_max_evidence), top_logprobs=s.select_top_logprobs,
    )
    stages.report("reading", sentences=len(shown))
    completion = assistant.llm.generate(request)
    usage = {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens}
    picked, answer = parse_selection(completion.text, len(shown))
    yes = verify(assistant.llm, question, shown, hits, picked, answer, s) if picked and answer else None
    draft = decide(question, shown, picked, answer, s, doc_of={n: h.chunk.doc_id for n, h in enumerate(hits, 1)},
                   steps=completion.steps, verified=yes, calibrator=assistant.calibrator, similarity=assistant.similarity)
    selection = {"evidence": picked, "answer": answer, "p_none": draft.signals.get("p_none"), "p_verified": yes,
                 "shown": len(shown), "best_score": candidates[0].score, "signals": draft.signals,
                 "first_line": draft.first_line}
    return dataclasses.replace(draft, usage=usage, selection=selection)


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


def decide(question: str, shown: Sequence[Sentence], picked: Sequence[int], answer: str, s: Settings,
           doc_of: dict[int, str] | None = None, steps: Sequence[Step] = (), verified: float | None = None,
           calibrator: Calibrator | None = None, similarity=None) -> Draft:
    """The answer from what the model chose: the first line made from the evidence (direct.py), then
    the sentences it rests on and the model's other choices, each quoted and cited; or, as the one
    decision (decision.py) has it, "not stated plainly" with the closest sentence, or a refusal."""
    chosen = [shown[i - 1] for i in picked]
    if not picked:
        return Draft(REFUSAL, withheld="(the model chose no sentence)", decision=REFUSE, first_line="")
    line = direct.first_line(question, answer, shown, chosen)
    shares = [share for x in line.spans for share in grounding.shares_at(x.sentence.text, x.start, x.end)]
    lacking = grounding.misses_what_was_asked(line.text, question, similarity, s.share_match, shares) if line.text else ""
    signals = read_signals(question, shown, chosen, line, answer, steps, doc_of or {}, verified, lacking)
    verdict, confidence = decision.decide(signals, calibrator, s.answerable_threshold)
    record = dataclasses.asdict(signals)
    withheld = f"(withheld: confidence {confidence:.2f}) {answer}"
    weighed = Draft(REFUSAL, withheld=withheld, decision=REFUSE, confidence=confidence, signals=record,
                    first_line=line.text)
    if verdict == REFUSE or (verdict == ANSWER and not line.text):
        return weighed
    resting = [x.sentence for x in line.spans]
    if verdict == NOT_STATED:  # the model's best sentence, which the reader can judge
        return dataclasses.replace(weighed, text=compose(NOT_PLAINLY, (chosen or resting)[:1]), decision=NOT_STATED)
    evidence = list({x.text: x for x in sorted([*resting, *chosen], key=lambda x: x.position)}.values())
    evidence = evidence[:max(s.select_max_evidence, len(resting))]
    evidence = evidence + other_articles(evidence, shown, doc_of or {}, s.select_other_articles)
    evidence = evidence + best_unquoted(evidence, shown, s.select_best_margin)
    return dataclasses.replace(weighed, text=compose(line.text, evidence), decision=ANSWER, withheld="")


NOT_PLAINLY = "The articles do not state this plainly; the closest they come is:"


def compose(first_line: str, evidence: Sequence[Sentence]) -> str:
    """The first line, then each sentence it rests on, quoted and cited, in reading order."""
    quotes = [f"“{x.text}” [{x.n}]" for x in sorted(evidence, key=lambda x: x.position)]
    return "\n".join([first_line, *quotes])


def read_signals(question: str, shown: Sequence[Sentence], chosen: Sequence[Sentence], line: direct.Direct,
                 answer: str, steps: Sequence[Step], doc_of: dict[int, str], verified: float | None,
                 lacking: str = "") -> Signals:
    """What the decision reads of one answer (decision.Signals); `lacking`: what of the kind asked the
    first line lacks (grounding.misses_what_was_asked)."""
    scores = sorted((x.score for x in shown), reverse=True)
    resting = [x.sentence for x in line.spans] or list(chosen)
    held = _content(" ".join(x.text for x in resting))
    asked = _content(question)
    asked_names = grounding.names(f"x {question}")
    held_words = grounding.words(" ".join(x.text for x in resting))
    mean_lp, min_lp = answer_logprobs(steps)
    said = grounding.yes_no(answer)[0] if grounding.asks_yes_no(question) else ""
    return Signals(
        p_none=p_none(steps), answer_logprob=mean_lp, answer_min_logprob=min_lp, p_verified=verified,
        best_score=scores[0] if scores else 0.0, margin=scores[0] - scores[1] if len(scores) > 1 else 0.0,
        chosen_score=max((x.score for x in resting), default=0.0),
        question_coverage=len(asked & held) / len(asked) if asked else 1.0,
        name_coverage=len(asked_names & held_words) / len(asked_names) if asked_names else 1.0,
        grounded=line.grounded, missing_parts=len(line.missing), lacks_asked=float(bool(lacking)),
        novelty=verdict_novelty(answer, question),
        verdict_dropped=float(bool(said) and not line.verdict), articles=len({doc_of.get(x.n) for x in resting}),
        answer_words=len(answer.split()),
    )


def novelty(answer: str, question: str) -> float:
    """Share of the answer's content words, figures and names that the question does not say: an
    answer in the question's own words ("the talks between the two sides") answers nothing."""
    said = _content(answer) | figures(answer) | grounding.names(f"x {answer}")
    asked = _content(question) | figures(question) | grounding.names(f"x {question}")
    return len(said - asked) / len(said) if said else 0.0


def verdict_novelty(answer: str, question: str) -> float:
    """`novelty`, where a bare yes or no to a yes/no question is all news."""
    verdict, rest = grounding.yes_no(answer) if grounding.asks_yes_no(question) else ("", answer)
    return 1.0 if verdict and not _content(rest) else novelty(rest, question)


_ANSWER_OPENS = re.compile(r'"answer"\s*:\s*"$')


def answer_logprobs(steps: Sequence[Step]) -> tuple[float | None, float | None]:
    """(mean, least) log-probability of the tokens the model wrote inside its answer string; a token
    outside the alternatives read at its step counts as the least likely of them. (None, None)
    when the backend reported no alternatives."""
    text, inside, values = "", False, []
    for chosen, alternatives in steps:
        if inside:
            if '"' in chosen:
                break
            if alternatives:
                values.append(alternatives.get(chosen, min(alternatives.values())))
        text += chosen
        inside = inside or bool(_ANSWER_OPENS.search(text))
    if not values:
        return None, None
    return sum(values) / len(values), min(values)


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
            for sentence in sentences_shown(sentences, s):  # prompt_sentences > 0 here
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
