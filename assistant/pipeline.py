"""question → retrieve → prompt → LLM → Answer with verified citations. No printing here."""

from __future__ import annotations

import dataclasses
import functools
import re
import time
from collections.abc import Callable, Sequence

from assistant import sentences, stages
from assistant.answer import citations, decision, disagreements, grounding, strategies, support
from assistant.embedders import load_embedder
from assistant.errors import AssistantError
from assistant.llms import Request, create
from assistant.llms.base import estimate_tokens
from assistant.prompts import REFUSAL, load_template
from assistant.retrieval import Filters, Retriever
from assistant.settings import Settings
from assistant.store import load_index
from assistant.types import Answer, Hit

Turn = tuple[str, str]  # (question, answer) of earlier chat turns

_FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|what about|how about|why|so|then|what else)\b|\b(it|its|they|them|their|that|those|these|this|he|she|his|her)\b",
    re.IGNORECASE,
)


class Assistant:
    """A loaded index, embedder, retriever and LLM: build once, ask many times (a chat session)."""

    def __init__(self, settings: Settings, llm=None):
        self.settings = settings
        self.index = load_index(settings)
        self.embedder = load_embedder(settings.embedder, settings.embed_batch_size)
        self.retriever = Retriever(self.index, self.embedder, settings)
        self.llm = llm if llm is not None else create(settings)
        self.strategy = strategies.choose(settings, self.llm)
        self.template = load_template(settings.prompt, "answer")
        self.calibrator = decision.load(settings.decision_model, self.llm.name)

    def similarity(self, text: str, others: list[str]) -> list[float]:
        """Cosine of `text` to each of `others` under the index's embedder."""
        vectors = self.embedder.embed([text, *others])
        return (vectors[1:] @ vectors[0]).tolist()

    # -- follow-ups ---------------------------------------------------------------------------
    def standalone_question(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up ("and what about Japan?") rewritten to stand alone, by the LLM when there is
        one, else by prefixing the previous question."""
        if not history or not _FOLLOW_UP.search(question):
            return question
        previous = history[-1][0]
        if getattr(self.llm, "writes", True):
            stages.report("rewriting")
            template = load_template("rewrite", "rewrite")
            transcript = "\n".join(f"User: {q}\nAssistant: {a[:300]}" for q, a in history[-3:])
            request = Request(messages=template.messages(history=transcript, question=question), max_tokens=60)
            try:
                rewritten = self.llm.generate(request).text.strip().strip('"').splitlines()
            except AssistantError:  # a failed rewrite falls back; the answer still comes
                rewritten = []
            if rewritten and 3 <= len(rewritten[0].split()) <= 60:
                return rewritten[0].strip()
        return f"{previous} {question}"

    # -- the context budget --------------------------------------------------------------------
    def fit_passages(self, question: str, hits: list[Hit]) -> tuple[list[Hit], list[Hit]]:
        """Drop the lowest-ranked passages until the prompt fits the model's window."""
        window = getattr(self.llm, "context_window", None)
        if not window:
            return hits, []
        count = getattr(self.llm, "count_tokens", estimate_tokens)
        kept = list(hits)
        while kept:
            messages = self.template.messages(passages=strategies.format_passages(kept), question=question, refusal=REFUSAL)
            needed = sum(count(m["content"]) for m in messages) + 16 * len(messages) + self.settings.max_tokens
            if needed <= window:
                break
            kept.pop()
        return kept, hits[len(kept):]

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters = Filters(),
        history: Sequence[Turn] = (),
        on_text: Callable[[str], None] | None = None,
        on_stage: stages.OnStage | None = None,
    ) -> Answer:
        """`on_stage` hears what the answer is doing while it is made (stages.py), in order."""
        with stages.listening(on_stage):
            return self._ask(question, k=k, filters=filters, history=history, on_text=on_text)

    def _ask(self, question: str, *, k: int | None, filters: Filters, history: Sequence[Turn],
             on_text: Callable[[str], None] | None) -> Answer:
        t0 = time.perf_counter()
        query = self.standalone_question(question, history)
        t1 = time.perf_counter()
        stages.report("searching")
        hits = self.retriever.search(query, k=k or self.settings.k, filters=filters)
        t2 = time.perf_counter()
        shown, omitted = self.fit_passages(query, hits)
        first_token: list[float] = []

        def relay(piece: str) -> None:
            if not first_token:
                first_token.append(time.perf_counter())
            if on_text:
                on_text(piece)

        s = self.settings
        ranked = functools.cache(lambda: sentences.ranking(self.embedder, self.index, query, shown, s))
        run = strategies.RUN[self.strategy]
        draft = run(self, query, shown, ranked, relay) if shown else strategies.Draft(REFUSAL)
        t3 = time.perf_counter()
        stages.report("checking")
        preface = ""  # "not stated plainly" heads the closest quote; it is the decision's, not a claim to check
        if draft.decision == decision.NOT_STATED and draft.text.startswith(strategies.NOT_PLAINLY):
            preface, draft = strategies.NOT_PLAINLY, dataclasses.replace(draft, text=draft.text[len(strategies.NOT_PLAINLY):].strip())
        resolve = functools.partial(citations.resolve, hits=shown, recite_margin=s.recite_margin,
                                    recite_min=s.recite_min, quote_min=s.quote_min_overlap)
        text, cites, dropped, recited = resolve(draft.text)
        supported = support.check(text, shown, query, s.support_min_overlap)
        if supported.text != text:
            text, cites, _, _ = resolve(supported.text)
        # After resolving, so that a misnumbered citation is not taken for the article the answer cites.
        if not preface and not grounding.is_refusal(text) and (differing := disagreements.differing_sentences(
                query, text, shown, ranked, self.similarity, margin=s.differ_margin, same_topic=s.differ_same_topic)):
            line, _, rest = text.partition("\n")
            if not draft.streamed:  # a streamed first line has been read already: the note alone follows it
                line = disagreements.first_line(line, differing, query, text, shown)
            text, cites, _, _ = resolve("\n".join(x for x in (line, rest, disagreements.note(differing, query, shown)) if x))
        claims = support.check(text, shown, query, s.support_min_overlap).claims
        refused = (grounding.is_refusal(text) or grounding.says_not_found(text)) and not cites
        if preface and not grounding.is_refusal(text):
            text = f"{preface}\n{text}"
        refused = refused or draft.decision in (decision.REFUSE, decision.NOT_STATED)
        if not draft.streamed:
            relay(text)  # only what stands after the checks is shown
        t4 = time.perf_counter()
        timings = {
            "rewrite": (t1 - t0) * 1000, "retrieval": (t2 - t1) * 1000, "generation": (t3 - t2) * 1000,
            "checks": (t4 - t3) * 1000, "total": (t4 - t0) * 1000,
        }
        if first_token:
            timings["first_token"] = (first_token[0] - t0) * 1000
        return Answer(
            question=question, answer=text, refused=refused, citations=tuple(cites), hits=tuple(shown),
            llm=self.llm.name, strategy=self.strategy, timings_ms=timings, dropped_citations=tuple(dropped),
            recited=tuple(recited), omitted_passages=tuple(h.chunk.id for h in omitted),
            removed_claims=draft.removed + supported.removed, withheld=draft.withheld, usage=draft.usage,
            claims=claims, selection=draft.selection, settings_fingerprint=self.settings.fingerprint(), query=query,
            as_of=filters.day().isoformat(), decision=draft.decision or ("refuse" if refused else "answer"),
            confidence=draft.confidence,
        )
