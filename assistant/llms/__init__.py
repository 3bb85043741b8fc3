"""Language-model backends, picked by name: see `registry`."""

from assistant.llms.base import LLM, Completion, Request
from assistant.llms.registry import available, create, describe, register

__all__ = ["LLM", "Completion", "Request", "available", "create", "describe", "register"]
