"""A completion cache: a deterministic request (temperature 0) to the same model gets the same reply,
so it is asked once. Keyed by the model's identity (its file's sha256 and the llama.cpp version, or
the server and model name) and everything the request sends: messages, schema, token limit,
temperature and alternatives per step. Stored as JSON lines (key, reply), appended under a file
lock so that two evals can share one file; never pickled.

An eval that changes nothing the model sees re-runs in seconds; one that changes retrieval asks
the model only for the questions whose prompt changed. With `replay`, the model is never loaded:
a request not in the cache gets an empty reply (the strategies treat it as "chose nothing") and is
counted in `misses`, so a replayed run says how much of it is real.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from assistant.errors import ConfigError
from assistant.llms.base import Completion, OnText, Request
from assistant.settings import Settings

DIGITS = 4  # log-probabilities are stored rounded to this many decimals


def request_key(identity: str, request: Request) -> str:
    """What the model is asked, in full, and who is asked; the question and passages fields are
    only there for scripted fakes and do not reach a model."""
    sent = {"model": identity, "messages": request.messages, "schema": request.schema,
            "max_tokens": request.max_tokens, "temperature": request.temperature,
            "top_logprobs": request.top_logprobs, "extra": request.extra}
    return hashlib.sha256(json.dumps(sent, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _encode(completion: Completion) -> dict:
    return {"text": completion.text, "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "steps": [[token, {alt: round(lp, DIGITS) for alt, lp in alternatives.items()}]
                      for token, alternatives in completion.steps]}


def _decode(data: dict) -> Completion:
    return Completion(text=data["text"], prompt_tokens=data.get("prompt_tokens", 0),
                      completion_tokens=data.get("completion_tokens", 0),
                      steps=tuple((token, dict(alternatives)) for token, alternatives in data.get("steps", [])))


class CompletionStore:
    """key -> Completion, read from a JSON-lines file and appended to it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._entries: dict[str, dict] = {}
        self._read()

    def _read(self) -> None:
        if not self.path.is_file():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                self._entries[row["key"]] = row["reply"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a killed run: that request is asked again

    def get(self, key: str) -> Completion | None:
        data = self._entries.get(key)
        return _decode(data) if data is not None else None

    def put(self, key: str, completion: Completion) -> None:
        reply = _encode(completion)
        self._entries[key] = reply
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"key": key, "reply": reply}, ensure_ascii=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as f, _locked(f):
            f.write(line)

    def __len__(self) -> int:
        return len(self._entries)


@contextlib.contextmanager
def _locked(f):
    fcntl.flock(f.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        f.flush()
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class CachedLLM:
    """Any backend behind the cache. The backend is made on the first request the cache cannot
    answer (never, with `replay`), so a replayed eval loads no model."""

    def __init__(self, make: Callable[[], object], identity: str, store: CompletionStore, *, name: str,
                 strategy: str, replay: bool = False, context_window: int | None = None,
                 count_tokens: Callable[[str], int] | None = None):
        self._make, self._backend = make, None
        self.identity, self.store, self.replay = identity, store, replay
        self.name, self.strategy = name, strategy
        self.hits = self.misses = 0
        if context_window:
            self.context_window = context_window
        if count_tokens:
            self.count_tokens = count_tokens

    @property
    def backend(self):
        if self._backend is None:
            self._backend = self._make()
        return self._backend

    def generate(self, request: Request, on_text: OnText | None = None) -> Completion:
        cacheable = request.temperature == 0
        key = request_key(self.identity, request) if cacheable else ""
        found = self.store.get(key) if cacheable else None
        if found is not None:
            self.hits += 1
            if on_text:
                on_text(found.text)
            return found
        self.misses += 1
        if self.replay:
            return Completion(text="")
        completion = self.backend.generate(request, on_text)  # type: ignore[attr-defined]
        if cacheable:
            self.store.put(key, completion)
        return completion


def identity(settings: Settings, backend_name: str) -> str | None:
    """Who answers, for the cache key: None for a backend whose replies are not worth caching."""
    if backend_name == "local":
        import llama_cpp

        who = f"llama.cpp {llama_cpp.__version__} gguf sha256:{_gguf_sha256(settings)}"
        # drafted tokens are checked in batches, whose sums may differ in their last bits: their
        # replies are kept apart (the default adds nothing, so the committed keys stay as they were)
        if settings.draft_tokens:
            who += f" draft {settings.draft_tokens}"
        return who
    if backend_name == "openai":
        from assistant.llms.registry import _openai_url

        return f"openai {_openai_url(settings)} {settings.openai_model}"
    return None


def _gguf_sha256(settings: Settings) -> str:
    from assistant import model_files

    if not settings.gguf_path:
        return model_files.QWEN_SHA256  # checked when the packaged model is assembled
    path = Path(settings.gguf_path)
    if not path.is_file():
        raise ConfigError(f"no GGUF model at {path}; give an existing .gguf file with --gguf")
    stat = path.stat()
    memo = model_files.cache_dir() / "gguf-sha256.json"
    known = json.loads(memo.read_text()) if memo.is_file() else {}
    tag = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    if tag not in known:
        known[tag] = model_files.file_sha256(path)
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known, indent=1))
        tmp.replace(memo)
    return known[tag]
