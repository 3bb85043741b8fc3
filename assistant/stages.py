"""What an answer is doing while the user waits: searching, reading N sentences, writing.

The pipeline listens (`listening(on_stage)`) for the length of one answer; the code along its path
calls `report(stage, ...)` (the pipeline, the strategy) or `progress(...)` (the backend), which do
nothing when nobody listens. Each `Stage` carries everything known so far, so a listener can show
just the latest one.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

STAGES = ("rewriting", "searching", "reading", "writing", "checking")


@dataclass(frozen=True)
class Stage:
    name: str  # one of STAGES
    elapsed_s: float  # since the question was asked
    counts: dict[str, int] = field(default_factory=dict)  # sentences / passages / tokens read, tokens written

    def describe(self) -> str:
        """One line for a person: "reading 12 sentences (640 tokens)", "writing (23 tokens)"."""
        c = self.counts
        if self.name == "reading":
            what = next((f"{c[k]} {k}" for k in ("sentences", "passages") if c.get(k)), "")
            tokens = f"{c['tokens']} tokens" if "tokens" in c else ""
            if what and tokens:
                return f"reading {what} ({tokens})"
            return f"reading {what or tokens}".strip()
        if self.name == "writing" and c.get("tokens"):
            return f"writing ({c['tokens']} tokens)"
        return self.name

    def to_json(self) -> dict:
        return {"stage": self.name, "text": self.describe(), "elapsed_ms": round(self.elapsed_s * 1000),
                "counts": dict(self.counts)}

    @classmethod
    def from_json(cls, data: dict) -> "Stage":
        counts = {k: int(v) for k, v in (data.get("counts") or {}).items()}
        return cls(str(data.get("stage", "")), float(data.get("elapsed_ms", 0)) / 1000, counts)


OnStage = Callable[[Stage], None]


class _Listener:
    def __init__(self, on_stage: OnStage):
        self.on_stage = on_stage
        self.started = time.perf_counter()
        self.current: Stage | None = None

    def report(self, name: str, counts: dict[str, int]) -> None:
        if self.current is not None and self.current.name == name:
            counts = {**self.current.counts, **counts}  # what the strategy and the backend each know
        stage = Stage(name, time.perf_counter() - self.started, counts)
        self.current = stage
        self.on_stage(stage)


_listener: contextvars.ContextVar[_Listener | None] = contextvars.ContextVar("assistant_stage", default=None)


@contextlib.contextmanager
def listening(on_stage: OnStage | None) -> Iterator[None]:
    """Send the stages reported in this block (this thread) to `on_stage`."""
    if on_stage is None:
        yield
        return
    token = _listener.set(_Listener(on_stage))
    try:
        yield
    finally:
        _listener.reset(token)


def report(name: str, **counts: int) -> None:
    """The answer being made has reached stage `name`; nothing happens when nobody listens."""
    listener = _listener.get()
    if listener is not None:
        listener.report(name, counts)


def progress(name: str, **counts: int) -> None:
    """A backend's word on its own work ("reading" with the tokens it reads, "writing" with those
    written): heard only while a strategy has the model reading or writing the answer, not while
    it rewrites a follow-up."""
    listener = _listener.get()
    if listener is not None and listener.current is not None and listener.current.name in ("reading", "writing"):
        listener.report(name, counts)
