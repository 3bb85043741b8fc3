"""Offline, cited question answering over a folder of news articles.

    from assistant import Assistant
    bot = Assistant.open("index", llm="extractive")
    print(bot.ask("...").answer)

Names are imported on first use, so `import assistant` (and `assistant --help`) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Assistant": "assistant.api",
    "Filters": "assistant.retrieval",
    "index": "assistant.api",
    "Answer": "assistant.types",
    "Citation": "assistant.types",
    "Hit": "assistant.types",
    "AssistantError": "assistant.errors",
}

__all__ = ["Answer", "Assistant", "AssistantError", "Citation", "Filters", "Hit", "index", "__version__"]

if TYPE_CHECKING:
    from assistant.api import Assistant, index
    from assistant.errors import AssistantError
    from assistant.retrieval import Filters
    from assistant.types import Answer, Citation, Hit


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
