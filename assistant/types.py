"""The small frozen records that flow between the stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Document:
    id: str
    text: str  # cleaned body text; chunk offsets index into it
    title: str = ""
    source: str = ""  # site or publisher
    url: str = ""
    date: str = ""  # ISO date (YYYY-MM-DD) when known
    path: str = ""
    pages: tuple[int, ...] = ()  # a PDF's or Word file's pages: where each starts in `text` (readers.page_of)

    def __post_init__(self) -> None:
        if not isinstance(self.pages, tuple):  # read back from JSON as a list
            object.__setattr__(self, "pages", tuple(self.pages))

    @property
    def content_hash(self) -> str:
        import hashlib

        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    id: str  # "<doc_id>#<n>"
    doc_id: str
    start: int  # character offsets into Document.text
    end: int
    text: str


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int  # 1-based
    title: str = ""
    date: str = ""
    source: str = ""
    context: str = ""  # what the model is shown: the chunk, possibly widened by neighbouring sentences
    context_start: int = -1
    context_end: int = -1

    @property
    def shown_text(self) -> str:
        return self.context or self.chunk.text


@dataclass(frozen=True)
class Citation:
    n: int  # the number the model saw, [n]
    doc_id: str
    title: str
    chunk_id: str
    start: int  # offsets of the quote in the document's cleaned text
    end: int
    quote: str
    supported: bool = True  # the cited passage shares the claim's content words
    page: int = 0  # the page of a PDF or Word file the quote starts on (1-based); 0: the document has no pages


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer and whether a passage it cites holds it (checked in `answer/support.py`)."""

    text: str  # the sentence, citation markers removed
    cited: tuple[int, ...]  # the passage numbers it cites
    supported: bool
    doc_id: str = ""  # the supporting quote: document and offsets in its cleaned text
    start: int = -1
    end: int = -1
    quote: str = ""


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    refused: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    llm: str
    strategy: str = ""  # how it was answered: select, free or extractive (answer/strategies.py)
    timings_ms: dict = field(default_factory=dict)
    dropped_citations: tuple[int, ...] = ()  # [n] the model wrote that were never shown to it
    recited: tuple[tuple[int, int], ...] = ()  # (n, m): a claim citing [n] was copied from passage m, so cites [m]
    omitted_passages: tuple[str, ...] = ()  # chunk ids retrieved but cut to fit the context window
    removed_claims: tuple[str, ...] = ()  # answer sentences dropped for stating figures or names no passage has
    withheld: str = ""  # the model's answer, when it lacked what the question asks for (then refused)
    usage: dict = field(default_factory=dict)  # prompt_tokens / completion_tokens, as the backend counted them
    claims: tuple[Claim, ...] = ()  # each answer sentence, supported or not, with its supporting quote
    selection: dict = field(default_factory=dict)  # select: the sentence numbers chosen, short answer, p_none
    settings_fingerprint: str = ""
    query: str = ""  # what was searched, when a follow-up was rewritten
    as_of: str = ""  # the day it was asked (ISO), which the recency prior ranks articles against
    decision: str = ""  # answer, not_stated (the closest sentence quoted) or refuse (answer/decision.py)
    confidence: float | None = None  # the decision's probability that the first line is right (select)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "decision": self.decision,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "citations": [asdict(c) for c in self.citations],
            "passages": [
                {
                    "n": i,
                    "doc_id": h.chunk.doc_id,
                    "chunk_id": h.chunk.id,
                    "title": h.title,
                    "date": h.date,
                    "start": h.chunk.start,
                    "end": h.chunk.end,
                    "text": h.chunk.text,
                    "score": round(h.score, 6),
                }
                for i, h in enumerate(self.hits, 1)
            ],
            "llm": self.llm,
            "strategy": self.strategy,
            "claims": [asdict(c) for c in self.claims],
            "selection": dict(self.selection),
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "dropped_citations": list(self.dropped_citations),
            "recited": [list(pair) for pair in self.recited],
            "omitted_passages": list(self.omitted_passages),
            "removed_claims": list(self.removed_claims),
            "withheld": self.withheld,
            "usage": dict(self.usage),
            "query": self.query or self.question,
            "settings_fingerprint": self.settings_fingerprint,
            "as_of": self.as_of,
        }
