"""`assistant mcp`: the index over the Model Context Protocol (the official SDK, `mcp`), for the
assistants people already use (desktop chat apps, editors).

Tools: `search` (passages with ids, titles, dates, sources, offsets and pages), `ask` (the checked
answer, exactly `assistant ask --json`'s object) and `get_document` (the cleaned text the offsets
index). Each document is also a resource, `assistant://documents/{id}`. Transports: stdio (the
client starts `assistant mcp` itself) and streamable HTTP at /mcp, behind the same bearer key and
body limit as `assistant serve` (serve/guard.py).

One loaded Assistant answers one call at a time (a lock), and loads the index's newest generation
before each call, so what `assistant index` or `assistant watch` committed is seen at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

from assistant.api import Assistant, as_filters
from assistant.errors import AssistantError, require
from assistant.readers import page_of

DOCUMENT_URI = "assistant://documents/{doc_id}"
INSTRUCTIONS = (
    "Search and question a local index of news articles. `ask` gives a checked answer whose every "
    "sentence cites a passage (or a refusal when the articles do not hold the answer); `search` "
    "gives the passages; `get_document` the whole cleaned text that citation offsets index."
)


@dataclass(frozen=True)
class MCPOptions:
    transport: str = "stdio"  # or "http"
    host: str = "127.0.0.1"
    port: int = 8001
    api_key: str | None = None
    max_body_bytes: int = 256 * 1024


def build_server(bot: Assistant):
    """The MCPServer with the tools and the document resources, all answered by `bot`."""
    require("mcp", "assistant mcp", "mcp")
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
    from mcp_types import Resource

    lock = threading.Lock()

    @contextlib.contextmanager
    def one_at_a_time(failure: type[Exception] = ToolError) -> Iterator[Assistant]:
        """The assistant, with its newest index, for one call; its errors as the one-line message
        the client shows (not a server-side traceback)."""
        with lock:
            try:
                yield current()
            except AssistantError as e:
                raise failure(str(e)) from None

    def current() -> Assistant:
        try:
            bot.reload_index()
        except AssistantError:  # a damaged new build: keep answering from the loaded one
            pass
        return bot

    class AssistantMCP(MCPServer):
        async def list_resources(self) -> list[Resource]:  # the index's documents as they are now
            with one_at_a_time() as b:
                docs = list(b.index.documents.values())
            return [Resource(uri=DOCUMENT_URI.format(doc_id=d.id), name=d.id, title=d.title or d.id,
                             description=" · ".join(x for x in (d.date, d.source, d.url) if x) or None,
                             mime_type="text/plain") for d in docs]

    server = AssistantMCP(name="assistant", version=_version(), instructions=INSTRUCTIONS)

    @server.tool(description="Passages of the indexed articles that best match `query` (hybrid dense + BM25 "
                             "search), each with its document id, title, date, source, character offsets and page.")
    def search(query: str, k: int = 5, since: Optional[str] = None, until: Optional[str] = None,
               source: Optional[list[str]] = None) -> dict[str, Any]:
        with one_at_a_time() as b:
            filters = as_filters({"since": since, "until": until, "sources": source or []})
            hits = b.retriever.search(query, k=max(1, min(k, 50)), filters=filters)
            docs = b.index.documents
            return {"query": query, "passages": [{
                "n": i, "chunk_id": h.chunk.id, "doc_id": h.chunk.doc_id, "title": h.title, "date": h.date,
                "source": h.source, "url": docs[h.chunk.doc_id].url if h.chunk.doc_id in docs else "",
                "start": h.chunk.start, "end": h.chunk.end,
                "page": page_of(docs[h.chunk.doc_id], h.chunk.start) if h.chunk.doc_id in docs else 0,
                "text": h.chunk.text, "score": round(h.score, 6)} for i, h in enumerate(hits, 1)]}

    @server.tool(description="A checked, cited answer to `question` from the indexed articles: the same object as "
                             "`assistant ask --json` (answer, refused, citations with quotes and offsets, passages).")
    def ask(question: str, k: Optional[int] = None, since: Optional[str] = None, until: Optional[str] = None,
            source: Optional[list[str]] = None, as_of: Optional[str] = None) -> dict[str, Any]:
        from assistant.cli import check_question

        with one_at_a_time() as b:
            check_question(question)
            filters = {"since": since, "until": until, "sources": source or [], "as_of": as_of}
            return b.ask(question, k=k, filters=filters).to_json()

    @server.tool(description="One indexed document: its cleaned text (what citation offsets index), title, date, "
                             "URL, source, and for a PDF or Word file where each page starts.")
    def get_document(doc_id: str) -> dict[str, Any]:
        with one_at_a_time() as b:
            return _document(b, doc_id)

    @server.resource(DOCUMENT_URI, name="document", mime_type="text/plain",
                     description="An indexed document's cleaned text (what citation offsets index).")
    def document(doc_id: str) -> str:
        with one_at_a_time(ResourceNotFoundError) as b:
            return _document(b, doc_id)["text"]

    return server


def _document(bot: Assistant, doc_id: str) -> dict[str, Any]:
    from assistant.errors import ConfigError

    doc = bot.index.documents.get(doc_id)
    if doc is None:
        raise ConfigError(f"no document {doc_id!r} in the index; `search` gives the ids")
    return {"id": doc.id, "title": doc.title, "date": doc.date, "url": doc.url, "source": doc.source,
            "text": doc.text, "pages": list(doc.pages)}


def _version() -> str:
    from assistant import __version__

    return __version__


def run(bot: Assistant, options: MCPOptions) -> None:
    server = build_server(bot)
    if options.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    from assistant.serve.guard import Guard

    app = Guard(server.streamable_http_app(host=options.host), max_body_bytes=options.max_body_bytes,
                api_key=options.api_key)
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning", timeout_graceful_shutdown=5)
