"""Any OpenAI-compatible chat server through the official client: OpenAI, Ollama, vLLM,
llama.cpp's server, LM Studio. The client retries 429/5xx/connection errors with backoff."""

from __future__ import annotations

import os

from assistant.errors import LLMConnectionError, LLMError
from assistant.llms.base import Completion, OnText, Request, estimate_tokens
from assistant.settings import Settings


class OpenAIBackend:
    def __init__(self, base_url: str, api_key: str, model: str, *, timeout: float = 60.0, max_retries: int = 3,
                 context_window: int = 8192):
        import openai

        self._openai = openai
        self.base_url = base_url
        self.model = model
        self.context_window = context_window
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
        o = self._openai
        pieces: list[str] = []
        usage = None
        try:
            stream = self._client.chat.completions.create(
                model=self.model, messages=request.messages, temperature=request.temperature,
                max_tokens=request.max_tokens, stream=True,
            )
            for event in stream:
                if getattr(event, "usage", None):
                    usage = event.usage
                if not event.choices:
                    continue
                piece = event.choices[0].delta.content or ""
                if piece:
                    pieces.append(piece)
                    if on_text:
                        on_text(piece)
        except o.AuthenticationError:
            raise LLMConnectionError(f"{self.base_url} refused the API key; set OPENAI_API_KEY") from None
        except o.NotFoundError:
            raise LLMConnectionError(
                f"{self.base_url} does not know the model {self.model!r}; set --openai-model to one it serves"
            ) from None
        except o.APITimeoutError:
            raise LLMConnectionError(f"{self.base_url} did not answer in time; raise --timeout or check the server") from None
        except o.APIConnectionError:
            raise LLMConnectionError(
                f"cannot reach the OpenAI-compatible server at {self.base_url}"
                + (" (it stopped mid-answer)" if pieces else "")
                + "; start it or set OPENAI_BASE_URL"
            ) from None
        except o.APIStatusError as e:
            raise LLMError(f"{self.base_url} answered HTTP {e.status_code}: {_short(e.message)}") from None
        except o.OpenAIError as e:  # a stream cut mid-answer surfaces here or as httpx errors below
            raise LLMConnectionError(f"the server at {self.base_url} failed mid-answer: {_short(str(e))}") from None
        except Exception as e:  # noqa: BLE001
            if type(e).__module__.startswith(("httpx", "httpcore")):
                raise LLMConnectionError(
                    f"lost the connection to {self.base_url} mid-answer ({type(e).__name__}); check the server"
                ) from None
            raise
        text = "".join(pieces)
        if usage is not None:
            return Completion(text, usage.prompt_tokens or 0, usage.completion_tokens or 0)
        prompt = sum(estimate_tokens(m["content"]) for m in request.messages)
        return Completion(text, prompt, estimate_tokens(text))


def _short(message: str) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= 200 else message[:200] + "…"
