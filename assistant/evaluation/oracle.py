"""The oracle reader (`--llm oracle`, eval only): a stand-in for a perfect model under the `select`
strategy. Shown the numbered sentences, it chooses those that hold the item's evidence and answers
with the item's reference keys as the sentences word them (a verdict first for a yes/no item);
when no shown sentence holds the evidence it chooses none. The evidence counts as shown when every
quote is among the sentences and every element of the answer is in them: what the sentences do not
say, no reader of them can answer. Everything after the model runs as
usual, so what the oracle gets wrong the pipeline lost: the sentences shown lacked the evidence,
or the checks and the composing of the answer threw a right answer away.

Every model eval also runs the oracle on its items and sorts each wrong first line into
"evidence not shown", "lost by the checks" (the oracle's first line is wrong too) or "the model".
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.llms.base import Completion, OnText, Request
from assistant.text import normalise

MISSES = ("evidence not shown", "lost by the checks", "the model")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Key:
    """What the oracle knows of one question."""
    quotes: tuple[str, ...] = ()  # evidence quotes (QA set), each to be found in the shown sentences
    keys: tuple[tuple[str, ...], ...] = ()  # the answer's elements, each with its alternatives
    verdict: str = ""  # "yes" / "no" for a yes/no item


def _words(text: str) -> list[str]:
    return _WORD.findall(normalise(text))


def holds_quote(sentence: str, quote: str) -> bool:
    """A shown sentence holds (part of) an evidence quote: one contains the other, or the sentence
    holds at least 60% of the quote's words and the quote most of the sentence's (a quote is often
    a clause of one sentence, or runs over two)."""
    s, q = normalise(sentence), normalise(quote)
    if q in s or s in q:
        return True
    ws, wq = set(_words(s)), set(_words(q))
    shared = len(ws & wq)
    return bool(wq) and shared >= 0.6 * len(wq) and shared >= 0.5 * len(ws)


def _says(text: str, phrase: str) -> bool:
    from assistant.evaluation.metrics import says

    return says(normalise(text), phrase)


@dataclass
class OracleLLM:
    """A backend that answers from the keys it is given, by question."""
    keys: dict[str, Key]
    name: str = "oracle"
    strategy: str = "select"
    covered: dict[str, tuple[int, int]] = field(default_factory=dict)  # question -> (quotes shown, quotes)

    def generate(self, request: Request, on_text: OnText | None = None) -> Completion:
        from assistant.answer.strategies import VERDICT_SCHEMA

        if request.schema == VERDICT_SCHEMA:
            return Completion(json.dumps({"verdict": "yes"}))
        key = self.keys.get(request.question)
        sentences = list(request.passages)  # (number, text) as shown
        if key is None or not key.keys:
            return Completion(json.dumps({"evidence": [], "answer": ""}))
        found = [any(_says(t, a) for _, t in sentences for a in alternatives) for alternatives in key.keys]
        if key.quotes:  # every quote among the sentences, and every element of the answer in them
            shown = [i for i, q in enumerate(key.quotes) if any(holds_quote(t, q) for _, t in sentences)]
            self.covered[request.question] = (len(shown) + sum(found), len(key.quotes) + len(found))
            chosen = [n for n, t in sentences if any(holds_quote(t, key.quotes[i]) for i in shown)]
        else:  # no quotes (RealTime QA): the sentences naming a gold choice
            chosen = [n for n, t in sentences if any(_says(t, alt) for alt in key.keys[0])]
            self.covered[request.question] = (int(bool(chosen)), 1)
        if not chosen:
            return Completion(json.dumps({"evidence": [], "answer": ""}))
        said = " ".join(t for n, t in sentences if n in chosen)
        words = [next((a for a in alternatives if _says(said, a)), alternatives[0]) for alternatives in key.keys]
        answer = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        if key.verdict:
            answer = f"{key.verdict.capitalize()}, {answer}"
        return Completion(json.dumps({"evidence": chosen, "answer": answer}))


def qa_keys(items: Sequence) -> dict[str, Key]:
    """The oracle's keys for QA items (unanswerable ones get none: the oracle chooses nothing)."""
    return {it.question: Key(tuple(it.evidence), tuple(_alternatives(el) for el in it.must_include), it.verdict)
            for it in items if it.answerable}


def choice_keys(questions: Sequence[dict], in_corpus: dict[str, bool]) -> dict[str, Key]:
    """The oracle's keys for RealTime QA questions whose gold choice the corpus holds."""
    return {q["question"]: Key(keys=(tuple(q["choices"][g] for g in q["gold"]),))
            for q in questions if in_corpus.get(q["id"])}


def _alternatives(element) -> tuple[str, ...]:
    return (element,) if isinstance(element, str) else tuple(element)


def classify(item: dict, oracle_item: dict | None) -> str | None:
    """Why an item's first line is wrong, against the oracle's run of the same item; None when right."""
    if item["scores"].get("direct_correct") is not False:
        return None
    if oracle_item is None:
        return None
    if item.get("answerable", item["type"] != "unanswerable") and not oracle_item.get("evidence_shown"):
        return MISSES[0]
    if not oracle_item.get("direct_correct"):
        return MISSES[1]
    return MISSES[2]
