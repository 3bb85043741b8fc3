"""Every error the library raises on purpose; the CLI prints its message on one line and exits 1.

    AssistantError                 a message that says what went wrong and how to fix it
    ├── InputError                 a file or folder the user gave cannot be ingested
    │   ├── EmptyCorpusError       nothing indexable was found
    │   └── UnreadableFileError    binary, not UTF-8, malformed JSON lines, unsupported type
    ├── IndexError_                the index on disk is missing, corrupt or incompatible
    │   ├── IndexMissingError
    │   ├── IndexCorruptError      a file is truncated or fails its checksum
    │   ├── IndexMismatchError     built with another embedding model or chunking
    │   ├── IndexLockedError       another indexing run kept the index locked too long
    │   └── IndexWriteError        the index cannot be written (disk full, read-only); the old one is kept
    ├── ConfigError                an unknown backend name, a bad setting, a prompt with wrong variables
    ├── ModelError                 a model file is missing or fails its hash check
    └── LLMError                   the language model failed while answering
        └── LLMConnectionError     an OpenAI-compatible server is down, unknown model, timeouts
"""

from __future__ import annotations

import os
import re


class AssistantError(Exception):
    """Base: str(error) is a complete one-line message for the user."""


class InputError(AssistantError):
    pass


class EmptyCorpusError(InputError):
    pass


class UnreadableFileError(InputError):
    pass


class IndexError_(AssistantError):  # trailing underscore: do not shadow the builtin IndexError
    pass


class IndexMissingError(IndexError_):
    pass


class IndexCorruptError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


class IndexLockedError(IndexError_):
    pass


class IndexWriteError(IndexError_):
    pass


class ConfigError(AssistantError):
    pass


class ModelError(AssistantError):
    pass


class LLMError(AssistantError):
    pass


class LLMConnectionError(LLMError):
    pass


# -- secrets never shown -------------------------------------------------------------------------
# API keys come only from the environment or settings; every message the CLI prints goes through
# `redact`, which masks them (and anything shaped like a key, or a password in a URL).

_SECRET_ENV = ("OPENAI_API_KEY", "ASSISTANT_OPENAI_API_KEY")
_secrets: set[str] = set()
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}|(?<=Bearer )\S{8,}|(?<=://)[^/@\s:]+:[^/@\s]+(?=@)")


def add_secret(value: str | None) -> None:
    """Remember a key the settings hold, so that no message shows it."""
    if value and len(value) >= 6 and value != "not-needed":
        _secrets.add(value)


def mask(value: str) -> str:
    """`sk-…abcd`: enough to tell keys apart, too little to use one."""
    if len(value) < 16:
        return "****"
    return f"{value[:3]}…{value[-4:]}"


def redact(text: str) -> str:
    secrets = _secrets | {v for v in (os.environ.get(n) for n in _SECRET_ENV) if v and len(v) >= 6}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, mask(secret))
    return _KEY_LIKE.sub(lambda m: m.group(0) if "…" in m.group(0) else mask(m.group(0)), text)


def require(module: str, purpose: str, extra: str):
    """`import module`, or a ConfigError saying which extra installs it (the optional libraries:
    PDF and Word readers, feeds, the MCP server)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{purpose} needs {module.split('.')[0]}: pip install 'assistant[{extra}]' "
                          "(scripts/setup.sh installs it)") from None
