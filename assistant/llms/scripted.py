"""A scripted fake backend for unit tests: replies are given up front (or computed from the request).
A reply is the text, or a whole `Completion` when a test needs the alternatives at each step."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistant.llms.base import Completion, OnText, Request


class ScriptedLLM:
    def __init__(self, replies: Sequence[str | Completion] | Callable[[Request], str | Completion], name: str = "scripted",
                 context_window: int | None = None):
        self._replies = replies if callable(replies) else list(replies)
        self.name = name
        self.requests: list[Request] = []
        if context_window:
            self.context_window = context_window

    def generate(self, request: Request, on_text: OnText | None = None) -> Completion:
        self.requests.append(request)
        reply = self._replies(request) if callable(self._replies) else self._replies.pop(0)
        text = reply.text if isinstance(reply, Completion) else reply
        for word in text.split(" "):
            if on_text:
                on_text(word + " ")
        return Completion(text=text, prompt_tokens=sum(len(m["content"].split()) for m in request.messages),
                          completion_tokens=len(text.split()),
                          steps=reply.steps if isinstance(reply, Completion) else ())

    def count_tokens(self, text: str) -> int:
        return len(text.split())
