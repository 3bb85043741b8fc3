"""A running `assistant serve` used in place of loading the index and model in this process
(ASSISTANT_SERVER=http://127.0.0.1:8000): same `ask(...) -> Answer` as the in-process Assistant."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from assistant.errors import AssistantError, ConfigError, LLMConnectionError
from assistant.retrieval import Filters
from assistant.stages import Stage
from assistant.types import Claim, Answer, Chunk, Citation, Hit


class ServerUnavailable(AssistantError):
    """Nothing answers at the server's address: the caller answers in-process instead."""


def answer_from_json(data: dict) -> Answer:
    """An Answer back from `ask --json`'s object (fields it does not know are left out)."""
    hits = tuple(
        Hit(chunk=Chunk(id=p["chunk_id"], doc_id=p["doc_id"], start=p["start"], end=p["end"], text=p["text"]),
            score=p["score"], rank=p["n"], title=p.get("title", ""), date=p.get("date", ""))
        for p in data.get("passages", [])
    )
    known = {f for f in Citation.__dataclass_fields__}
    return Answer(
        question=data["question"], answer=data["answer"], refused=data["refused"],
        citations=tuple(Citation(**{k: v for k, v in c.items() if k in known}) for c in data.get("citations", [])),
        hits=hits, llm=data.get("llm", ""), strategy=data.get("strategy", ""), timings_ms=data.get("timings_ms", {}),
        dropped_citations=tuple(data.get("dropped_citations", [])),
        recited=tuple(tuple(pair) for pair in data.get("recited", [])),
        omitted_passages=tuple(data.get("omitted_passages", [])),
        removed_claims=tuple(data.get("removed_claims", [])), withheld=data.get("withheld", ""),
        usage=data.get("usage", {}), settings_fingerprint=data.get("settings_fingerprint", ""),
        query=data.get("query", ""), selection=data.get("selection", {}), as_of=data.get("as_of", ""),
        claims=tuple(Claim(**{**c, "cited": tuple(c.get("cited", ()))}) for c in data.get("claims", [])),
    )


class RemoteAssistant:
    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 600.0):
        if not url.startswith(("http://", "https://")):
            url = "http://" + url
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.health: dict = {}
        self.default_k: int | None = None  # -k given to `chat`

    def _open(self, path: str, body: dict | None = None, timeout_s: float | None = None):
        """The response (status 200) or urllib's HTTPError (other statuses, with a body) or OSError."""
        import urllib.request

        headers = {"Accept": "application/json, text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method="POST" if data else "GET")
        return urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s)

    def connect(self) -> "RemoteAssistant":
        """Checks the server is there (raises ServerUnavailable when nothing answers)."""
        import urllib.error

        try:
            with self._open("/healthz", timeout_s=3.0) as response:
                self.health = json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise ServerUnavailable(f"{self.url} is not an assistant server (GET /healthz: {e.code})") from None
        except (OSError, ValueError):
            raise ServerUnavailable(f"no assistant server answers at {self.url}") from None
        return self

    def _body(self, question: str, k: int | None, filters: Filters, history: Sequence[tuple[str, str]]) -> dict:
        body: dict = {"question": question, "history": [list(t) for t in history]}
        if k or self.default_k:
            body["k"] = k or self.default_k
        if filters.since:
            body["since"] = filters.since
        if filters.until:
            body["until"] = filters.until
        if filters.sources:
            body["source"] = list(filters.sources)
        if filters.as_of:
            body["as_of"] = filters.as_of
        return body

    def _post(self, path: str, body: dict):
        import urllib.error

        try:
            return self._open(path, body)
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read())["error"]["message"]
            except (ValueError, KeyError, TypeError, OSError):
                message = e.reason
            if e.code == 401:
                raise ConfigError(f"the server at {self.url} refused the API key ({message}); set ASSISTANT_API_KEY") from None
            if e.code == 400:
                raise ConfigError(message) from None
            raise LLMConnectionError(f"the server at {self.url} answered {e.code}: {message}") from None
        except OSError as e:
            raise LLMConnectionError(f"the server at {self.url} stopped answering ({e})") from None

    def ask_json(self, question: str, *, k: int | None = None, filters: Filters = Filters(),
                 history: Sequence[tuple[str, str]] = ()) -> dict:
        """Exactly what `ask --json` prints."""
        with self._post("/api/ask", self._body(question, k, filters, history)) as response:
            return json.loads(response.read())

    def ask(self, question: str, *, k: int | None = None, filters: Filters = Filters(),
            history: Sequence[tuple[str, str]] = (), on_text: Callable[[str], None] | None = None,
            on_stage: Callable[[Stage], None] | None = None) -> Answer:
        if on_text is None and on_stage is None:
            return answer_from_json(self.ask_json(question, k=k, filters=filters, history=history))
        try:
            with self._post("/api/stream", self._body(question, k, filters, history)) as response:
                for raw in response:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if not line.startswith("data: "):
                        continue
                    event = json.loads(line[6:])
                    if event["type"] == "text":
                        if on_text:
                            on_text(event["text"])
                    elif event["type"] == "stage":
                        if on_stage:
                            on_stage(Stage.from_json(event))
                    elif event["type"] == "answer":
                        return answer_from_json(event["answer"])
                    elif event["type"] == "error":
                        raise LLMConnectionError(f"the server at {self.url} failed: {event['message']}")
        except OSError as e:
            raise LLMConnectionError(f"the server at {self.url} stopped answering ({e})") from None
        raise LLMConnectionError(f"the server at {self.url} ended the answer early")
