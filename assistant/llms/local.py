"""llama.cpp in-process (llama-cpp-python) on any GGUF; the chat template comes from the GGUF."""

from __future__ import annotations

import contextlib
import os
import typing
from pathlib import Path

from assistant.errors import ConfigError, LLMError, ModelError
from assistant.llms.base import Completion, OnText, Request
from assistant.settings import Settings

_loaded: dict[tuple, typing.Any] = {}  # one model per process: loading costs seconds


@contextlib.contextmanager
def _quiet_stderr():
    """llama.cpp prints model loading logs straight to fd 2."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


class LocalBackend:
    def __init__(self, path: Path, *, n_ctx: int = 4096, n_threads: int = 2, chat_format: str | None = None):
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError(
                "the local backend needs llama-cpp-python; pip install 'assistant[local]' or use --llm extractive"
            ) from None
        if not path.is_file():
            raise ModelError(f"no GGUF model at {path}; give an existing .gguf file with --gguf")
        key = (str(path), n_ctx, n_threads, chat_format)
        if key not in _loaded:
            try:
                with _quiet_stderr():
                    _loaded[key] = Llama(
                        model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, chat_format=chat_format, verbose=False
                    )
            except (ValueError, RuntimeError) as e:
                raise ModelError(f"llama.cpp cannot load {path}: {e}") from None
        self._llm = _loaded[key]
        self.context_window = n_ctx
        self.name = f"local:{path.stem}"

    @classmethod
    def from_settings(cls, settings: Settings) -> "LocalBackend":
        from assistant.model_files import qwen_gguf

        path = Path(settings.gguf_path) if settings.gguf_path else qwen_gguf(progress=_assembly_progress())
        return cls(path, n_ctx=settings.n_ctx, n_threads=settings.n_threads, chat_format=settings.chat_format)

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def generate(self, request: Request, on_text: OnText | None = None) -> Completion:
        pieces: list[str] = []
        try:
            stream = self._llm.create_chat_completion(
                messages=request.messages, temperature=request.temperature, max_tokens=request.max_tokens,
                stream=True, seed=0,
            )
            for chunk in stream:
                piece = chunk["choices"][0]["delta"].get("content") or ""
                if piece:
                    pieces.append(piece)
                    if on_text:
                        on_text(piece)
        except (ValueError, RuntimeError) as e:
            raise LLMError(f"{self.name} failed: {e}") from None
        text = "".join(pieces)
        prompt = sum(self.count_tokens(m["content"]) for m in request.messages)
        return Completion(text=text, prompt_tokens=prompt, completion_tokens=self.count_tokens(text))


def _assembly_progress():
    """A progress bar the first time the packaged model is assembled (about 1 GB)."""
    state = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            from rich.progress import Progress

            state["bar"] = Progress(transient=True)
            state["bar"].start()
            state["task"] = state["bar"].add_task("assembling the local model (once)", total=total)
        state["bar"].update(state["task"], completed=done)
        if done >= total:
            state["bar"].stop()

    return update
