"""Backends by name. Built-ins are listed here; other packages add theirs through the entry-point
group "assistant.llms" (name = "module:factory", factory(settings) -> LLM)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from assistant.errors import ConfigError
from assistant.llms.base import estimate_tokens
from assistant.settings import Settings

Factory = Callable[[Settings], object]


def _openai(settings: Settings):
    from assistant.llms.openai_backend import OpenAIBackend

    return OpenAIBackend.from_settings(settings)


def _local(settings: Settings):
    from assistant.llms.local import LocalBackend

    return LocalBackend.from_settings(settings)


def _extractive(settings: Settings):
    from assistant.llms.extractive import ExtractiveBackend

    return ExtractiveBackend.from_settings(settings)


def _oracle(settings: Settings):
    raise ConfigError("the oracle reader answers from a QA set's reference answers: use it with assistant eval --llm oracle")


_BUILTIN: dict[str, tuple[Factory, str]] = {
    "local": (_local, "llama.cpp in-process on a GGUF (default: packaged Qwen2.5-Coder-1.5B-Instruct)"),
    "openai": (_openai, "any OpenAI-compatible server: OpenAI, Ollama, vLLM, llama.cpp server, LM Studio"),
    "extractive": (_extractive, "no model: quotes the best-matching sentences of the passages"),
    "oracle": (_oracle, "eval only: answers with the QA set's reference keys (what the pipeline loses)"),
}
_registered: dict[str, tuple[Factory, str]] = {}


def register(name: str, factory: Factory, description: str = "") -> None:
    _registered[name] = (factory, description)


def _plugins() -> dict[str, tuple[Factory, str]]:
    found: dict[str, tuple[Factory, str]] = {}
    for ep in entry_points(group="assistant.llms"):
        found[ep.name] = (lambda settings, ep=ep: ep.load()(settings), f"plugin {ep.value}")  # type: ignore[misc]
    return found


def available() -> dict[str, tuple[Factory, str]]:
    return {**_BUILTIN, **_plugins(), **_registered}


def resolve_name(name: str) -> str:
    if name != "auto":
        return name
    from assistant.model_files import qwen_available

    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return "extractive"
    return "local" if qwen_available() else "extractive"


def create(settings: Settings):
    """The backend named by `settings.llm`, behind the completion cache when `completion_cache` is set
    and the backend is a model worth caching (local, openai)."""
    name = resolve_name(settings.llm)
    backends = available()
    if name not in backends:
        raise ConfigError(f"unknown LLM backend {name!r}; choose one of: {', '.join(sorted(backends))}, auto")
    factory = backends[name][0]
    if settings.completion_cache and name in ("local", "openai"):
        return _cached(name, factory, settings)
    return factory(settings)


def _cached(name: str, factory: Factory, settings: Settings):
    from assistant.llms.cache import CachedLLM, CompletionStore, identity

    who = identity(settings, name)
    store = CompletionStore(settings.completion_cache)  # type: ignore[arg-type]
    if name == "local":
        from assistant.llms.local import LocalBackend

        return CachedLLM(lambda: factory(settings), who, store, name=LocalBackend.name_for(settings),  # type: ignore[arg-type]
                         strategy=LocalBackend.strategy, replay=settings.completion_replay,
                         context_window=settings.n_ctx, count_tokens=LocalBackend.tokenizer(settings))
    from assistant.llms.openai_backend import OpenAIBackend

    return CachedLLM(lambda: factory(settings), who, store, name=f"openai:{settings.openai_model}",  # type: ignore[arg-type]
                     strategy=OpenAIBackend.strategy, replay=settings.completion_replay,
                     context_window=settings.openai_context_window, count_tokens=estimate_tokens)


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(name, what it is, how it is configured) for `assistant models`."""
    from assistant.model_files import qwen_available

    config = {
        "local": f"gguf={settings.gguf_path or ('packaged Qwen (installed)' if qwen_available() else 'packaged Qwen (NOT installed)')}"
        f", n_ctx={settings.n_ctx}, threads={settings.n_threads}",
        "openai": f"base_url={_openai_url(settings)}, model={settings.openai_model}",
        "extractive": f"threshold={settings.extractive_threshold}, sentences={settings.extractive_sentences}",
    }
    default = resolve_name("auto")
    return [
        (name + (" (default)" if name == default else ""), about, config.get(name, ""))
        for name, (_, about) in sorted(available().items())
    ]


def _openai_url(settings: Settings) -> str:
    import os

    return settings.openai_base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
