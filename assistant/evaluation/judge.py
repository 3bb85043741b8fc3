"""LLM-as-judge for `assistant eval --judge NAME`: beside the string-match scores, a language model is
asked two yes/no questions about every answerable item that got an answer (not a refusal):

    judge_supported   is everything the answer states supported by the passages it cites?
    judge_agrees      does the answer agree with the reference answer?

Each is True/False per item, None when the item was not judged (unanswerable, refused, no language
model answering) or the reply held neither "yes" nor "no". An answer that cites nothing is not
supported (False, the judge is not asked). The summary gives their means, right after accuracy.
The prompt is prompts/judge.txt; the judge's replies are kept in each item's "judge".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.errors import ConfigError
from assistant.evaluation.metrics import mean
from assistant.llms.base import Request
from assistant.prompts import load_template

SCORES = ("judge_supported", "judge_agrees")
CHECKS = {
    "supported": "Is everything the answer states supported by the cited passages above? "
                 "Reply no if the answer says something those passages do not say.",
    "agrees": "Does the answer agree with the reference answer, giving the same facts (it may be worded "
              "differently or say more)? Reply no if it contradicts the reference or misses its main point.",
}
_VERDICT = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def parse_verdict(reply: str) -> bool | None:
    """The first "yes" or "no" word of the reply, in any case ("**Yes.**", "no, because ..."); None
    when it has neither."""
    match = _VERDICT.search(reply or "")
    return None if match is None else match.group(1).lower() == "yes"


def cited_passages(prediction: dict) -> str:
    """The passages the answer cites, numbered as the answering model saw them."""
    shown = dict(enumerate(prediction.get("passages", []), 1))
    numbers = sorted({c.get("n") for c in prediction.get("citations", []) if c.get("n") in shown})
    return "\n\n".join(f"[{n}] {shown[n]['text']}" for n in numbers)


class Judge:
    def __init__(self, llm, max_tokens: int = 8):
        self.llm = llm
        self.name = llm.name
        self.max_tokens = max_tokens
        self.template = load_template("judge", "judge")

    def verdict(self, question: str, answer: str, evidence: str, check: str) -> tuple[bool | None, str]:
        messages = self.template.messages(question=question, answer=answer, evidence=evidence, check=CHECKS[check])
        reply = self.llm.generate(Request(messages=messages, max_tokens=self.max_tokens, temperature=0.0)).text
        return parse_verdict(reply), " ".join(reply.split())

    def score(self, result: dict) -> dict:
        """Adds judge_supported and judge_agrees to an eval item's scores (its replies to item["judge"])."""
        prediction, scores, replies = result["prediction"], dict.fromkeys(SCORES), {}
        if result["type"] != "unanswerable" and prediction.get("answer") and not prediction.get("refused"):
            question, answer = result["question"], prediction["answer"]
            passages = cited_passages(prediction)
            if passages:
                scores["judge_supported"], replies["supported"] = self.verdict(
                    question, answer, "Passages the answer cites:\n" + passages, "supported")
            else:
                scores["judge_supported"], replies["supported"] = False, "(not asked: the answer cites no passage)"
            scores["judge_agrees"], replies["agrees"] = self.verdict(
                question, answer, "Reference answer:\n" + result["reference"], "agrees")
        result["scores"].update(scores)
        if replies:
            result["judge"] = replies
        return result


def make_judge(name: str, settings, answering_llm=None) -> Judge:
    """The judge backend by name, as for --llm; the answering model itself when it is the same backend
    (one model in memory, not two)."""
    from assistant.llms.registry import create, resolve_name

    resolved = resolve_name(name)
    if resolved == "extractive":
        raise ConfigError("--judge needs a language model (local, openai or a plugin's); extractive cannot judge")
    if answering_llm is not None and resolved == resolve_name(settings.llm):
        return Judge(answering_llm)
    return Judge(create(settings.model_copy(update={"llm": resolved})))


def add_summary(summary: dict, results: Sequence[dict]) -> dict:
    """The judge rates into a summary from `metrics.summarise`, overall and by type, after accuracy."""
    groups = [(summary["overall"], results)]
    groups += [(group, [r for r in results if r["type"] == t]) for t, group in summary["by_type"].items()]
    for group, items in groups:
        rates = {s: mean(r["scores"].get(s) for r in items) for s in SCORES}
        entries = list(group.items())
        group.clear()
        for key, value in entries:
            group[key] = value
            if key == "accuracy":
                group.update(rates)
        group.update({k: v for k, v in rates.items() if k not in group})
    return summary
