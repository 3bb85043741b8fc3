"""The HTTP app: one loaded Assistant shared by every request, answers run one at a time by the
worker, the OpenAI-compatible routes, the native /api routes, and the web page at /."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.api import Assistant, as_filters
from assistant.errors import AssistantError, ConfigError, IndexError_, InputError, LLMError
from assistant.serve import openai_format as oai
from assistant.serve.guard import Guard, error_body
from assistant.serve.worker import Busy, Worker

WEB_DIR = Path(__file__).resolve().parent / "web"
log = logging.getLogger("assistant.serve")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    max_body_bytes: int = 256 * 1024
    max_waiting: int = 32  # questions queued behind the one being answered; more get 429
    wait_timeout_s: float = 300.0  # a question that cannot start within this gets 503


# -- request bodies ---------------------------------------------------------------------------------
class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=4000)
    k: Optional[int] = Field(None, ge=1, le=50)
    since: Optional[str] = None
    until: Optional[str] = None
    source: Optional[list[str]] = None
    as_of: Optional[str] = None
    history: list[tuple[str, str]] = Field(default_factory=list, max_length=50)


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: Union[str, list[dict], None] = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatBody(BaseModel):
    """OpenAI's fields are accepted; sampling ones are ignored (answers are checked, not sampled).
    Extra: k, since, until, source, as_of, as in /api/ask."""

    model_config = ConfigDict(extra="allow")
    model: str = oai.MODEL_ID
    messages: list[Message] = Field(min_length=1, max_length=100)
    stream: bool = False
    stream_options: Optional[StreamOptions] = None
    k: Optional[int] = Field(None, ge=1, le=50)
    since: Optional[str] = None
    until: Optional[str] = None
    source: Optional[list[str]] = None
    as_of: Optional[str] = None


def _status(error: Exception) -> tuple[int, str]:
    if isinstance(error, Busy):
        return error.status, "rate_limit_error" if error.status == 429 else "server_busy"
    if isinstance(error, (ConfigError, InputError)):
        return 400, "invalid_request_error"
    if isinstance(error, IndexError_):
        return 503, "index_unavailable"
    if isinstance(error, LLMError):
        return 502, "model_error"
    return 500, "server_error"


def _error_response(error: Exception) -> JSONResponse:
    status, kind = _status(error)
    message = str(error) if isinstance(error, (AssistantError, Busy)) else f"internal error ({type(error).__name__})"
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Busy) else None
    return JSONResponse(error_body(message, kind), status_code=status, headers=headers)


def _sse(data: Any) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def create_app(bot: Assistant, options: ServeOptions = ServeOptions()) -> FastAPI:
    def reload_quietly() -> None:
        try:
            if bot.reload_index():
                log.warning("index changed on disk: loaded %s", bot.generation)
        except AssistantError as e:  # keep answering from the index already loaded
            log.warning("index changed on disk but cannot be loaded (%s); still answering from %s", e, bot.generation)

    worker = Worker(options.max_waiting, options.wait_timeout_s, before_each=reload_quietly)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        worker.shutdown()

    app = FastAPI(title="assistant", version="0.1.0", docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.worker = worker
    app.state.bot = bot

    @app.exception_handler(AssistantError)
    async def _assistant_error(_: Request, e: AssistantError):
        return _error_response(e)

    @app.exception_handler(Busy)
    async def _busy(_: Request, e: Busy):
        return _error_response(e)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return JSONResponse(error_body(f"{where}: {first.get('msg', 'invalid request')}", "invalid_request_error"), 400)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, e: Exception):  # a bug: logged with its traceback, one line to the client
        log.exception("unexpected error")
        return _error_response(e)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException):
        return JSONResponse(error_body(str(e.detail), "invalid_request_error"), e.status_code)

    def ask_job(question: str, k, filters, history, stages: bool = False):
        def job(emit):
            on_stage = (lambda stage: emit.stage(stage.to_json())) if stages else None
            return bot.ask(question, k=k, filters=filters, history=history, on_text=emit, on_stage=on_stage).to_json()

        return job

    def parsed_filters(body) -> Any:
        return as_filters({"since": body.since, "until": body.until, "sources": body.source or [], "as_of": body.as_of})

    # -- the web page ----------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    # -- status ------------------------------------------------------------------------------------
    @app.get("/healthz")
    async def healthz(request: Request):
        """Open to all; the index's path only to those holding the key (when there is one)."""
        trusted = not options.api_key or hmac.compare_digest(
            request.headers.get("authorization", "").encode(), f"Bearer {options.api_key}".encode())
        return {
            "status": "ok",
            "llm": bot.llm.name,
            "documents": len(bot.index.documents),
            "passages": len(bot.index.chunks),
            "generation": bot.generation,
            "waiting": max(0, worker.pending - 1),
            "answered": worker.served,
            "auth": bool(options.api_key),
            **({"index": str(Path(bot.settings.index_dir).resolve())} if trusted else {}),
        }

    # -- native API ------------------------------------------------------------------------------
    @app.post("/api/ask")
    async def api_ask(body: AskBody):
        """Exactly `assistant ask --json`'s object."""
        job = await worker.submit(ask_job(body.question, body.k, parsed_filters(body), body.history))
        return await job.result()

    @app.post("/api/stream")
    async def api_stream(body: AskBody):
        """Server-sent events: {"type": "stage", "stage", "text", "elapsed_ms", "counts"} as the answer
        is made (searching, reading, writing, checking) and {"type": "text", "text"} as the model
        writes, then {"type": "answer", "answer": <ask --json's object>}, or {"type": "error", "message", "status"}."""
        job = await worker.submit(ask_job(body.question, body.k, parsed_filters(body), body.history, stages=True))

        async def events():
            async for kind, value in job.updates():
                yield _sse({"type": "stage", **value} if kind == "stage" else {"type": "text", "text": value})
            try:
                yield _sse({"type": "answer", "answer": await job.result()})
            except Exception as e:  # the status line has gone: the error travels as an event
                status, _ = _status(e)
                yield _sse({"type": "error", "status": status, "message": json.loads(_error_response(e).body)["error"]["message"]})

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    @app.get("/api/documents/{doc_id}")
    async def document(doc_id: str):
        """The cleaned text that citation offsets index, with title, date, URL and source; for a PDF
        or Word file, `pages`: where each page starts in the text."""
        doc = bot.index.documents.get(doc_id)
        if doc is None:
            raise StarletteHTTPException(404, f"no document {doc_id!r} in the index")
        return {"id": doc.id, "title": doc.title, "date": doc.date, "url": doc.url, "source": doc.source, "text": doc.text,
                "pages": list(doc.pages)}

    @app.post("/api/reload")
    async def reload():
        """Load the index's current generation (after `assistant index`); answers already queued finish first."""
        job = await worker.submit(lambda emit: bot.reload_index())
        changed = await job.result()
        return {"reloaded": changed, "generation": bot.generation, "documents": len(bot.index.documents),
                "passages": len(bot.index.chunks)}

    # -- OpenAI-compatible -----------------------------------------------------------------------
    @app.get("/v1/models")
    async def models():
        return oai.models(bot.llm.name)

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatBody):
        question, history = oai.question_and_history([m.model_dump() for m in body.messages])
        job = await worker.submit(ask_job(question, body.k, parsed_filters(body), history))
        if not body.stream:
            return oai.completion(await job.result())
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        async def events():
            id_, created, model = oai.new_id(), int(time.time()), oai.MODEL_ID
            yield _sse(oai.chunk(id_, created, model, {"role": "assistant", "content": ""}))
            streamed: list[str] = []
            async for piece in job.pieces():
                streamed.append(piece)
                yield _sse(oai.chunk(id_, created, model, {"content": piece}))
            try:
                answer = await job.result()
            except Exception as e:
                yield _sse(json.loads(_error_response(e).body))
                yield "data: [DONE]\n\n"
                return
            tail = oai.after_stream("".join(streamed), answer["answer"]) + oai.sources_text(answer)
            if tail:
                yield _sse(oai.chunk(id_, created, model, {"content": tail}))
            yield _sse(oai.chunk(id_, created, model, {}, "stop", **oai.extras(answer)))
            if include_usage:
                yield _sse({"id": id_, "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [], "usage": oai.usage(answer)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    app.add_middleware(Guard, max_body_bytes=options.max_body_bytes, api_key=options.api_key)
    return app
