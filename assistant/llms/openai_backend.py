"""Any OpenAI-compatible chat server through the official client: OpenAI, Ollama, vLLM,
llama.cpp's server, LM Studio. The client retries 429/5xx/connection errors with backoff; whatever
still fails (refused, unknown model, bad key, timeout, HTTP 5xx, a stream cut mid-answer) becomes
one `LLMConnectionError` line naming the URL."""

from __future__ import annotations

import json
import os
import re

from assistant.errors import LLMConnectionError, LLMError
from assistant.llms.base import Completion, OnText, Request, estimate_tokens
from assistant.settings import Settings


class OpenAIBackend:
    strategy = "select"  # evidence-first, as for the local model; --strategy free for prose

    def __init__(self, base_url: str, api_key: str, model: str, *, timeout: float = 60.0, max_retries: int = 3,
                 context_window: int = 8192):
        import openai

        self._openai = openai
        self.base_url = base_url
        self.model = model
        self.context_window = context_window
        self.timeout, self.max_retries = timeout, max_retries
        self.name = f"openai:{model}"
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)

    @classmethod
    def from_settings(cls, settings: Settings) -> "OpenAIBackend":
        base_url = settings.openai_base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        # Local servers ignore the key, but the client insists on one.
        api_key = settings.openai_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        return cls(base_url, api_key, settings.openai_model, timeout=settings.timeout_s,
                   max_retries=settings.max_retries, context_window=settings.openai_context_window)

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def generate(self, request: Request, on_text: OnText | None = None) -> Completion:
        if request.schema is None:
            return self._stream(request, on_text)
        completion = self._structured(request)
        if on_text and completion.text:
            on_text(completion.text)
        return completion

    def _structured(self, request: Request) -> Completion:
        """Structured outputs (json_schema), then plain JSON mode, then the prompt's own instruction:
        servers differ in what they accept, and a 400 for an unknown parameter is not an error of ours."""
        formats = [
            {"type": "json_schema", "json_schema": {"name": "answer", "schema": request.schema, "strict": False}},
            {"type": "json_object"},
            None,
        ]
        extra = {"logprobs": True, "top_logprobs": min(request.top_logprobs, 20)} if request.top_logprobs else {}
        o = self._openai
        for i, response_format in enumerate(formats):
            kwargs = dict(extra, **({"response_format": response_format} if response_format else {}))

            def create():
                try:
                    return self._client.chat.completions.create(
                        model=self.model, messages=request.messages, temperature=request.temperature,
                        max_tokens=request.max_tokens, stream=False, **kwargs)
                except o.APIStatusError as e:  # servers reject what they lack with 400, 422 or even 500
                    if i < len(formats) - 1 and e.status_code in (400, 422, 500, 501):
                        return None
                    raise

            reply = self._call(create)
            if reply is None:
                extra = {}  # a server that rejects one parameter may reject logprobs too
                continue
            if not getattr(reply, "choices", None):
                raise LLMConnectionError(f"the server at {self.base_url} sent a malformed answer; check the server")
            choice = reply.choices[0]
            steps = tuple(
                (item.token, {alt.token: alt.logprob for alt in (item.top_logprobs or [])})
                for item in ((choice.logprobs.content or []) if getattr(choice, "logprobs", None) else [])
            )
            usage = reply.usage
            return Completion(choice.message.content or "", getattr(usage, "prompt_tokens", 0) or 0,
                              getattr(usage, "completion_tokens", 0) or 0, steps)
        raise AssertionError("unreachable")

    def _call(self, make):
        """One non-streamed request, its failures turned into our one-line errors."""
        o, url = self._openai, self.base_url
        try:
            return make()
        except o.AuthenticationError:
            raise LLMConnectionError(f"{url} refused the API key (HTTP 401); set OPENAI_API_KEY") from None
        except o.APITimeoutError:
            raise LLMConnectionError(f"{url} did not answer within {self.timeout:g} s; raise ASSISTANT_TIMEOUT_S") from None
        except o.APIConnectionError as e:
            raise LLMConnectionError(
                f"cannot reach the OpenAI-compatible server at {url} ({_cause(e)}); start it or set OPENAI_BASE_URL"
            ) from None
        except o.APIStatusError as e:
            error = LLMConnectionError if e.status_code == 429 or e.status_code >= 500 else LLMError
            raise error(f"{url} answered HTTP {e.status_code}: {_short(_detail(e))}") from None
        except o.OpenAIError as e:
            raise LLMConnectionError(f"the server at {url} failed: {_short(str(e))}") from None

    def _stream(self, request: Request, on_text: OnText | None) -> Completion:
        o = self._openai
        url = self.base_url
        pieces: list[str] = []
        usage = None
        started = finished = False  # a chunk arrived; a chunk carried finish_reason
        try:
            stream = self._client.chat.completions.create(
                model=self.model, messages=request.messages, temperature=request.temperature,
                max_tokens=request.max_tokens, stream=True,
            )
            for event in stream:
                started = True
                if getattr(event, "usage", None):
                    usage = event.usage
                if not event.choices:
                    continue
                choice = event.choices[0]
                finished = finished or bool(choice.finish_reason)
                piece = (choice.delta.content if choice.delta else None) or ""
                if piece:
                    pieces.append(piece)
                    if on_text:
                        on_text(piece)
        except o.AuthenticationError:
            raise LLMConnectionError(f"{url} refused the API key (HTTP 401); set OPENAI_API_KEY") from None
        except o.NotFoundError as e:
            raise LLMConnectionError(
                f"{url} does not know the model {self.model!r} (HTTP 404: {_short(_detail(e), 120)}); "
                "set --openai-model to one it serves, or check the URL (it usually ends in /v1)"
            ) from None
        except o.APITimeoutError:
            raise LLMConnectionError(
                f"{url} did not answer within {self.timeout:g} s" + (" (it stopped mid-answer)" if started else "")
                + "; raise ASSISTANT_TIMEOUT_S or check the server"
            ) from None
        except o.APIConnectionError as e:
            if started:
                raise LLMConnectionError(_cut(url, e.__cause__ or e)) from None
            raise LLMConnectionError(
                f"cannot reach the OpenAI-compatible server at {url} ({_cause(e)}); start it or set OPENAI_BASE_URL"
            ) from None
        except o.APIStatusError as e:
            code = e.status_code
            retried = (code == 429 or code >= 500) and self.max_retries
            retried = f" after {retried} retr{'y' if retried == 1 else 'ies'}" if retried else ""
            error = LLMConnectionError if code == 429 or code >= 500 else LLMError
            raise error(f"{url} answered HTTP {code}{retried}: {_short(_detail(e))}") from None
        except o.OpenAIError as e:  # an error event inside the stream
            raise LLMConnectionError(f"the server at {url} failed mid-answer: {_short(str(e))}") from None
        except json.JSONDecodeError as e:  # a malformed event
            raise LLMConnectionError(f"the server at {url} sent a malformed stream ({_short(str(e), 80)})") from None
        except Exception as e:  # noqa: BLE001 - transport errors the client did not wrap
            if type(e).__module__.startswith(("httpx", "httpcore", "h11", "anyio")):
                raise LLMConnectionError(_cut(url, e) if started else f"cannot reach {url} ({_cause(e)})") from None
            raise
        if started and not finished:  # a body closed before its last chunk: cut, not complete
            raise LLMConnectionError(_cut(url, None))
        text = "".join(pieces)
        if usage is not None:
            return Completion(text, usage.prompt_tokens or 0, usage.completion_tokens or 0)
        prompt = sum(estimate_tokens(m["content"]) for m in request.messages)
        return Completion(text, prompt, estimate_tokens(text))


def _cause(error: BaseException) -> str:
    """The transport error under the client's wrapper, e.g. 'ConnectError: [Errno 111] Connection refused'."""
    inner = error.__cause__ or error.__context__ or error
    return _short(f"{type(inner).__name__}: {inner}" if str(inner) else type(inner).__name__, 120)


def _detail(error) -> str:
    """The server's own message, without the client's 'Error code: 404 - ' prefix."""
    return re.sub(r"^Error code: \d+ - ", "", str(error.message))


def _cut(url: str, error: BaseException | None) -> str:
    why = _short(f"{type(error).__name__}: {error}", 120) if error is not None else "the body ended before its last chunk"
    return f"the server at {url} stopped mid-answer ({why}); check the server and ask again"


def _short(message: str, limit: int = 200) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= limit else message[:limit] + "…"
