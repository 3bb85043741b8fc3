"""llama.cpp in-process (llama-cpp-python) on any GGUF; the chat template comes from the GGUF.

The model runs in an `Engine`, llama-cpp-python's `Llama` with five additions, all inside its
`generate`, `eval` and `sample` so that `create_chat_completion` stays the one way in:
- every decode is timed, and each call's counts and times are kept (`LocalBackend.calls`: prompt
  tokens, those kept evaluated from the previous prompt, tokens written, llama.cpp's own time
  reading and writing), which `assistant bench answer` reports;
- llama.cpp keeps the longest common opening of consecutive prompts evaluated; a prompt of another
  kind in between (chat's follow-up rewrite between two selections) would evict it, so the
  evaluated tokens of the prompt it replaces are kept aside (one per system message) and put back
  when a prompt of that kind returns;
- a JSON reply stops as soon as its object closes (not one decode later, at end-of-text);
- greedy sampling (no penalties) under the JSON grammar asks the grammar about the best token alone, and about the
  whole vocabulary only when it refuses that one (the same token, without ~15 ms a step);
- with a draft (prompt lookup: the tokens that followed the reply's last words in the prompt,
  `draft_tokens`), drafted tokens are checked in one decode, and only then are logits computed for
  every position of a batch; the prompt itself asks for the last position's only.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import json
import os
import time
import typing
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ConfigError, LLMError, ModelError
from assistant.llms.base import Completion, OnText, Request
from assistant.settings import Settings
from assistant.stages import progress

_loaded: dict[tuple, typing.Any] = {}  # one model per process: loading costs seconds
KEPT_KINDS = 4  # prompts of this many other kinds keep their evaluated tokens aside


@dataclass(frozen=True)
class CallStats:
    """One call to the model, as llama.cpp ran it."""

    prompt_tokens: int
    reused_tokens: int  # kept evaluated from an earlier prompt: not read again
    generated_tokens: int
    prompt_s: float  # llama.cpp decoding the prompt tokens not reused
    generate_s: float  # llama.cpp decoding while writing
    decodes: int  # decodes while writing (fewer than tokens when drafts are accepted)
    drafted_tokens: int  # tokens proposed by the draft
    total_s: float  # the whole call: template, grammar, sampling and the above
    prompt_ids: tuple[int, ...] = ()
    generated_ids: tuple[int, ...] = ()


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
    strategy = "select"  # evidence-first: chosen on the QA set's dev split (eval/HISTORY.md)

    def __init__(self, path: Path, *, n_ctx: int = 4096, n_threads: int = 2, chat_format: str | None = None,
                 draft_tokens: int = 0):
        try:
            import llama_cpp  # noqa: F401
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
                    _loaded[key] = engine_class()(  # the prompt too is read with n_threads (llama's default: every core)
                        model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                        chat_format=chat_format, verbose=False,
                    )
            except (ValueError, RuntimeError) as e:
                raise ModelError(f"llama.cpp cannot load {path}: {e}") from None
        self._llm = _loaded[key]
        self.context_window = n_ctx
        self.name = f"local:{path.stem}"
        self.path = path
        self.n_threads = n_threads
        self.draft_tokens = draft_tokens

    @classmethod
    def from_settings(cls, settings: Settings) -> "LocalBackend":
        return cls(_model_path(settings), n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                   chat_format=settings.chat_format, draft_tokens=settings.draft_tokens)

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

    @property
    def calls(self) -> collections.deque[CallStats]:
        """The latest calls to the model (a bounded record, for benchmarks)."""
        return self._llm.calls

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def generate(self, request: Request, on_text: OnText | None = None) -> Completion:
        self._llm.kind = request.messages[0]["content"] if request.messages and request.messages[0]["role"] == "system" else ""
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
        assert request.schema is not None
        recorder = _StepRecorder(self._llm, request.top_logprobs) if request.top_logprobs else None
        engine = self._llm
        engine.json_stop = True
        engine.draft_model = _PromptLookup(self.draft_tokens) if self.draft_tokens else None
        try:
            reply = engine.create_chat_completion(
                messages=request.messages, temperature=request.temperature, max_tokens=request.max_tokens,
                grammar=json_grammar(request.schema), seed=0,
                logits_processor=[recorder] if recorder else None,
            )
        except (ValueError, RuntimeError) as e:
            raise LLMError(f"{self.name} failed: {e}") from None
        finally:
            engine.json_stop, engine.draft_model = False, None
        text = reply["choices"][0]["message"].get("content") or ""
        if on_text:
            on_text(text)
        usage = reply.get("usage") or {}
        steps = recorder.steps(engine.calls[-1].generated_ids) if recorder and engine.calls else ()
        return Completion(text=text, prompt_tokens=usage.get("prompt_tokens", 0),
                          completion_tokens=usage.get("completion_tokens", 0), steps=steps)


def json_grammar(schema: dict):
    """The schema as a llama.cpp grammar, its whitespace rules kept: Qwen writes `"evidence": [` with a
    space, and made to write `":[` closes the list at once (eval/HISTORY.md)."""
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    return LlamaGrammar.from_string(json_schema_to_gbnf(json.dumps(schema)), verbose=False)


def _model_path(settings: Settings) -> Path:
    from assistant.model_files import qwen_gguf

    return Path(settings.gguf_path) if settings.gguf_path else qwen_gguf(progress=_assembly_progress())


class _StepRecorder:
    """A llama.cpp logits processor that notes the `top` most likely tokens at each generated step:
    it runs once per token sampled, in order, so step i belongs to the i-th generated token."""

    def __init__(self, llm, top: int):
        self._llm, self._top = llm, top
        self._seen: list[list[tuple[int, float]]] = []

    def __call__(self, input_ids, scores):
        import numpy as np

        logits = np.asarray(scores, dtype=np.float64)
        top = np.argpartition(-logits, self._top)[: self._top]
        shift = logits.max()
        log_total = shift + np.log(np.exp(logits - shift).sum())
        self._seen.append([(int(t), float(logits[t] - log_total)) for t in top])
        return scores

    def steps(self, generated: typing.Sequence[int]):
        """(the token chosen, {alternative: log-probability}) per step; `generated` are the tokens sampled."""
        out = []
        for i, alternatives in enumerate(self._seen):
            chosen = self._piece(generated[i]) if i < len(generated) else ""
            out.append((chosen, {self._piece(t): lp for t, lp in alternatives}))
        return tuple(out)

    def _piece(self, token: int) -> str:
        return self._llm.detokenize([token]).decode("utf-8", errors="ignore")


class _PromptLookup:
    """Prompt-lookup drafting: the `n` tokens that followed the latest occurrence, earlier in the
    context, of the last `ngram` tokens written (longest n-gram first, down to `min_ngram`)."""

    def __init__(self, n: int, ngram: int = 3, min_ngram: int = 2):
        self.n, self.ngram, self.min_ngram = n, ngram, min_ngram

    def __call__(self, input_ids, /, **_):
        import numpy as np

        ids = np.asarray(input_ids)
        for size in range(min(self.ngram, len(ids) - 1), self.min_ngram - 1, -1):
            tail = ids[-size:]
            windows = np.lib.stride_tricks.sliding_window_view(ids[:-1], size)
            hits = np.nonzero((windows == tail).all(axis=1))[0]
            for start in hits[::-1]:
                follow = ids[start + size: start + size + self.n]
                if len(follow):
                    return follow.astype(np.intc)
        return np.array([], dtype=np.intc)


class _JsonEnd:
    """Whether the bytes fed so far close the JSON object they open (strings and escapes respected)."""

    def __init__(self) -> None:
        self.depth, self.opened, self.in_string, self.escaped = 0, False, False, False

    def feed(self, data: bytes) -> bool:
        for byte in data:
            c = chr(byte)
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif c == "\\":
                    self.escaped = True
                elif c == '"':
                    self.in_string = False
            elif c == '"':
                self.in_string = True
            elif c in "{[":
                self.depth += 1
                self.opened = True
            elif c in "}]":
                self.depth -= 1
                if self.opened and self.depth == 0:
                    return True
        return False


def engine_class():
    """`Engine`, defined when first asked for: llama_cpp is imported only by the local backend."""
    global _Engine
    if _Engine is None:
        _Engine = _define_engine()
    return _Engine


_Engine: typing.Any = None


def _define_engine():
    import llama_cpp
    from llama_cpp import Llama

    class Engine(Llama):
        """Llama, timed, keeping what prompts share, stopping at the end of a JSON reply, drafting."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.calls: collections.deque[CallStats] = collections.deque(maxlen=32)
            self.kind = ""  # the system message of the prompt being answered
            self.json_stop = False
            self._state_kind = ""  # the kind of prompt whose tokens are evaluated now
            self._kept: collections.OrderedDict[str, tuple[list[int], bytes]] = collections.OrderedDict()
            self._decodes: list[tuple[int, float]] = []  # (tokens, seconds) of each eval in this call
            self._writing = False
            self._grammar_sampler: typing.Any = None  # a llama.cpp grammar sampler while a greedy JSON reply is written
            self._vocabulary: typing.Any = None

        # -- decoding ---------------------------------------------------------------------------
        def eval(self, tokens):
            """Llama.eval, timed; logits for every position only when writing with a draft, where
            each drafted position is sampled (the prompt needs the last one's only)."""
            started = time.perf_counter()
            every = self._writing and self.draft_model is not None
            self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
            for i in range(0, len(tokens), self.n_batch):
                batch = tokens[i: i + self.n_batch]
                n_past = self.n_tokens
                self._batch.set_batch(batch=batch, n_past=n_past, logits_all=every)
                self._ctx.decode(self._batch)
                self.input_ids[n_past: n_past + len(batch)] = batch
                self.n_tokens += len(batch)
            self._requires_eval = False
            if len(tokens):
                self._decodes.append((len(tokens), time.perf_counter() - started))
            self._writing = True  # the first eval of a call reads the prompt; the rest write

        def generate(self, tokens, *args, **kwargs):
            if kwargs.get("grammar") is not None and kwargs.get("temp", 0.8) == 0.0 and not args and _neutral(kwargs):
                with self._greedy_grammar(kwargs.pop("grammar")):
                    yield from self._generate(tokens, *args, grammar=None, **kwargs)
            else:
                yield from self._generate(tokens, *args, **kwargs)

        def _generate(self, tokens, *args, **kwargs):
            tokens = list(tokens)
            started = time.perf_counter()
            self._switch_kind(tokens)
            self._decodes, self._writing = [], False
            progress("reading", tokens=len(tokens) - self._common(tokens))
            written: list[int] = []
            closed = _JsonEnd() if self.json_stop else None
            drafted = [0]
            draft = self.draft_model
            if draft is not None:
                def counting(ids, /, **kw):
                    proposal = draft(ids, **kw)
                    drafted[0] += len(proposal)
                    return proposal

                self.draft_model = counting
            try:
                for token in super().generate(tokens, *args, **kwargs):
                    written.append(token)
                    progress("writing", tokens=len(written))
                    yield token
                    if closed is not None and closed.feed(self.detokenize([token])):
                        yield self.token_eos()  # what the model would write next, unasked: the reply ends
                        return
            finally:
                self.draft_model = draft
                self._record(tokens, written, drafted[0], time.perf_counter() - started)

        # -- greedy under a grammar: the grammar asked about the best token only ---------------------
        @contextlib.contextmanager
        def _greedy_grammar(self, grammar):
            """llama-cpp-python's sampler chain checks every token of the vocabulary (151,936 for
            Qwen) against the grammar at each step, ~15 ms; greedy needs only the best token the
            grammar allows, and that is almost always the best token: it is checked alone, and the
            whole vocabulary only when the grammar refuses it (llama.cpp's own common sampler does
            the same). The same token either way."""
            sampler = llama_cpp.llama_sampler_init_grammar(
                self._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
            if not sampler:
                raise ValueError("llama.cpp could not parse the JSON grammar")
            self._grammar_sampler = sampler
            try:
                yield
            finally:
                self._grammar_sampler = None
                llama_cpp.llama_sampler_free(sampler)

        def sample(self, *args, logits_processor=None, grammar=None, idx=None, **kwargs):
            if self._grammar_sampler is None or idx is None:
                return super().sample(*args, logits_processor=logits_processor, grammar=grammar, idx=idx, **kwargs)
            import numpy as np

            n_vocab = self.n_vocab()
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._ctx.ctx, idx - self.n_tokens),
                                           shape=(n_vocab,))
            for processor in logits_processor or ():
                logits = processor(self._input_ids, logits)
            token = int(np.argmax(logits))
            if not self._allowed(token, float(logits[token])):
                data = self._vocabulary_data(n_vocab)
                data["logit"] = logits
                self._apply_grammar(self._vocabulary, n_vocab)
                token = int(np.argmax(data["logit"]))
            llama_cpp.llama_sampler_accept(self._grammar_sampler, token)
            return token

        def _allowed(self, token: int, logit: float) -> bool:
            one = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, logit, 0.0))
            self._apply_grammar(one, 1)
            return one[0].logit != float("-inf")

        def _apply_grammar(self, data, size: int) -> None:
            array = llama_cpp.llama_token_data_array(
                data=ctypes.cast(data, llama_cpp.llama_token_data_p), size=size, selected=-1, sorted=False)
            llama_cpp.llama_sampler_apply(self._grammar_sampler, ctypes.byref(array))

        def _vocabulary_data(self, n_vocab: int):
            """The whole vocabulary as llama.cpp token data (made once), as a numpy view."""
            import numpy as np

            if self._vocabulary is None:
                self._vocabulary = (llama_cpp.llama_token_data * n_vocab)()
            view = np.ctypeslib.as_array(self._vocabulary)
            view["id"] = np.arange(n_vocab, dtype=np.int32)
            view["p"] = 0.0
            return view

        def _record(self, prompt: list[int], written: list[int], drafted: int, total_s: float) -> None:
            reading = self._decodes[:1] if self._decodes and self._decodes[0][0] > 0 else []
            read = reading[0][0] if reading else 0
            writing = self._decodes[len(reading):]
            self.calls.append(CallStats(
                prompt_tokens=len(prompt), reused_tokens=len(prompt) - read, generated_tokens=len(written),
                prompt_s=sum(s for _, s in reading), generate_s=sum(s for _, s in writing), decodes=len(writing),
                drafted_tokens=drafted, total_s=total_s, prompt_ids=tuple(prompt), generated_ids=tuple(written)))

        def _common(self, tokens: list[int]) -> int:
            """How many opening tokens of `tokens` llama-cpp-python will keep evaluated (its own rule:
            all it shares with the last prompt, less one when that is the whole prompt)."""
            n = 0
            for a, b in zip(self._input_ids, tokens):
                if a != b:
                    break
                n += 1
            return n - 1 if n == len(tokens) and n > 0 else n

        # -- prompts of several kinds --------------------------------------------------------------
        def _switch_kind(self, tokens: list[int]) -> None:
            """Before a prompt of another kind replaces the evaluated tokens, keep them aside; put back
            those of this prompt's kind when they share more with it than what is evaluated now."""
            if self.kind == self._state_kind:
                return
            if self.n_tokens > 0:
                self._keep(self._state_kind)
            kept = self._kept.pop(self.kind, None)
            if kept is not None:
                ids, data = kept
                shared = sum(1 for _ in _takewhile_equal(ids, tokens))
                if shared > self._common(tokens):
                    self._restore(ids, data)
            self._state_kind = self.kind

        def _keep(self, kind: str) -> None:
            ctx = self._ctx.ctx
            size = llama_cpp.llama_state_seq_get_size(ctx, 0)
            buffer = (ctypes.c_uint8 * size)()
            written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
            if written:
                self._kept[kind] = (list(self._input_ids), bytes(buffer)[:written])
                self._kept.move_to_end(kind)
                while len(self._kept) > KEPT_KINDS:
                    self._kept.popitem(last=False)

        def _restore(self, ids: list[int], data: bytes) -> None:
            self._ctx.kv_cache_seq_rm(-1, 0, -1)
            buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
            if llama_cpp.llama_state_seq_set_data(self._ctx.ctx, buffer, len(data), 0) != len(data):
                self._ctx.kv_cache_seq_rm(-1, 0, -1)
                self.n_tokens = 0  # nothing kept: the prompt is read whole
                return
            self.input_ids[: len(ids)] = ids
            self.n_tokens = len(ids)
            self._requires_eval = True

    return Engine


def _neutral(kwargs: dict) -> bool:
    """No penalties in the sampling asked for: the greedy grammar path applies none."""
    return (kwargs.get("repeat_penalty", 1.0) == 1.0 and not kwargs.get("frequency_penalty")
            and not kwargs.get("presence_penalty"))


def _takewhile_equal(a, b):
    for x, y in zip(a, b):
        if x != y:
            return
        yield x


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
