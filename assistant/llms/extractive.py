"""No language model: the `extractive` strategy answers with the passage sentences that best match
the question (assistant/sentences.py), each cited, and refuses when none matches well enough
(`extractive_threshold`). This backend only says so: it writes no text of its own."""

from __future__ import annotations

from assistant.errors import ConfigError
from assistant.llms.base import Completion, OnText, Request
from assistant.settings import Settings


class ExtractiveBackend:
    name = "extractive"
    writes = False  # no language model: follow-ups are joined, not rewritten; answers are quoted
    strategy = "extractive"

    @classmethod
    def from_settings(cls, settings: Settings) -> "ExtractiveBackend":
        return cls()

    def generate(self, request: Request, on_text: OnText | None = None) -> Completion:
        raise ConfigError("the extractive backend has no language model to generate text; use --llm local or openai")
