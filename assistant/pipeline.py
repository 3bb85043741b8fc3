"""question → retrieve → prompt → LLM → Answer with verified citations. No printing here."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Sequence

from assistant import citations, disagreements, grounding
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


def format_passages(hits: Sequence[Hit], only: dict[int, list[str]] | None = None) -> str:
    """Numbered passages for the prompt; with `only`, just those sentences of those passages."""
    blocks = []
    for n, hit in enumerate(hits, 1):
        if only is not None and n not in only:
            continue
        body = " ".join(only[n]) if only is not None else hit.shown_text
        head = " — ".join(x for x in (hit.title, hit.date) if x)
        blocks.append(f"[{n}] {head}\n{body}" if head else f"[{n}] {body}")
    return "\n\n".join(blocks)


class Assistant:
    """A loaded index, embedder, retriever and LLM: build once, ask many times (a chat session)."""

    def __init__(self, settings: Settings, llm=None):
        self.settings = settings
        self.index = load_index(settings)
        self.embedder = load_embedder(settings.embedder, settings.embed_batch_size)
        self.retriever = Retriever(self.index, self.embedder, settings)
        self.llm = llm if llm is not None else create(settings)
        self.template = load_template(settings.prompt, "answer")

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
        if getattr(self.llm, "name", "") != "extractive":
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
            messages = self.template.messages(passages=format_passages(kept), question=question, refusal=REFUSAL)
            needed = sum(count(m["content"]) for m in messages) + 16 * len(messages) + self.settings.max_tokens
            if needed <= window:
                break
            kept.pop()
        return kept, hits[len(kept):]

    def rank_sentences(self, question: str, hits: Sequence[Hit]) -> list[tuple[float, int, int, str]]:
        """(score, position, passage number, sentence) of every shown sentence, best first."""
        from assistant.llms.extractive import ExtractiveBackend

        return ExtractiveBackend(self.embedder).ranked(question, [(n, h.shown_text) for n, h in enumerate(hits, 1)])

    def select_context(
        self, question: str, hits: Sequence[Hit], ranked: Callable[[], list[tuple[float, int, int, str]]]
    ) -> tuple[bool, dict[int, list[str]] | None]:
        """(answerable, the sentences to show). Small models answer whatever they are asked, so a
        question no passage sentence matches is refused before the model sees it; with
        `prompt_sentences`, the model sees only that many best-matching sentences, in passage order.
        `ranked()` is `rank_sentences(question, hits)`, called only when needed."""
        s = self.settings
        if getattr(self.llm, "name", "") == "extractive" or (s.answerable_threshold <= 0 and not s.prompt_sentences):
            return True, None
        ranked = ranked()
        if not ranked or ranked[0][0] < s.answerable_threshold:
            return False, None
        if not s.prompt_sentences:
            return True, None
        best: dict[str, tuple[int, int]] = {}  # overlapping passages repeat sentences: show each once
        for _, position, n, sentence in ranked:
            if len(best) >= s.prompt_sentences:
                break
            best.setdefault(sentence, (position, n))
        only: dict[int, list[str]] = {}
        for sentence, (_, n) in sorted(best.items(), key=lambda kv: kv[1][0]):
            only.setdefault(n, []).append(sentence)
        return True, only

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters = Filters(),
        history: Sequence[Turn] = (),
        on_text: Callable[[str], None] | None = None,
    ) -> Answer:
        t0 = time.perf_counter()
        query = self.standalone_question(question, history)
        t1 = time.perf_counter()
        hits = self.retriever.search(query, k=k or self.settings.k, filters=filters)
        t2 = time.perf_counter()
        shown, omitted = self.fit_passages(query, hits)
        first_token: list[float] = []

        def relay(piece: str) -> None:
            if not first_token:
                first_token.append(time.perf_counter())
            if on_text:
                on_text(piece)

        ranked = functools.cache(lambda: self.rank_sentences(query, shown))
        answerable, only = self.select_context(query, shown, ranked) if shown else (False, None)
        usage: dict = {}
        if answerable:
            messages = self.template.messages(passages=format_passages(shown, only), question=query, refusal=REFUSAL)
            request = Request(
                messages=messages, question=query, passages=tuple((n, h.shown_text) for n, h in enumerate(shown, 1)),
                max_tokens=self.settings.max_tokens, temperature=self.settings.temperature,
            )
            completion = self.llm.generate(request, relay)
            raw = completion.text
            usage = {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens}
        else:
            raw = REFUSAL  # nothing retrieved, or nothing that matches the question
            relay(raw)
        t3 = time.perf_counter()
        checked = grounding.check(raw, shown, query, self.similarity)
        text, cites, dropped, recited = citations.resolve(checked.text if checked.text.strip() else REFUSAL, shown)
        # After resolving, so that a misnumbered citation is not taken for the article the answer cites.
        if not grounding.is_refusal(text) and (differing := disagreements.differing_sentences(
                query, text, shown, ranked, self.similarity)):
            text, cites, _, _ = citations.resolve(f"{text} {disagreements.note(differing, query)}", shown)
        refused = (grounding.is_refusal(text) or grounding.says_not_found(text)) and not cites
        timings = {
            "rewrite": (t1 - t0) * 1000, "retrieval": (t2 - t1) * 1000, "generation": (t3 - t2) * 1000,
            "total": (t3 - t0) * 1000,
        }
        if first_token:
            timings["first_token"] = (first_token[0] - t0) * 1000
        return Answer(
            question=question, answer=text, refused=refused, citations=tuple(cites), hits=tuple(shown),
            llm=self.llm.name, timings_ms=timings, dropped_citations=tuple(dropped), recited=tuple(recited),
            omitted_passages=tuple(h.chunk.id for h in omitted), removed_claims=tuple(checked.removed), withheld=checked.withheld,
            usage=usage,
            settings_fingerprint=self.settings.fingerprint(),
            query=query,
        )
