"""ASGI middleware in front of every route: a bearer key when one is set (401), and a bounded
request body (413), checked before any route reads it."""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence

OPEN_PATHS = ("/", "/healthz", "/favicon.ico")  # and /static/*: the page asks for the key itself


def error_body(message: str, kind: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


async def send_json(send, status: int, body: dict, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": payload})


class Guard:
    def __init__(self, app, *, max_body_bytes: int, api_key: str | None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.api_key = api_key

    def _authorized(self, scope) -> bool:
        if not self.api_key:
            return True
        path = scope.get("path", "")
        if path in OPEN_PATHS or path.startswith("/static/") or scope.get("method") == "OPTIONS":
            return True
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, key = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(key.strip().encode(), self.api_key.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self._authorized(scope):
            return await send_json(
                send, 401, error_body("missing or wrong API key: send the header 'Authorization: Bearer KEY'",
                                      "invalid_request_error", "invalid_api_key"),
                [(b"www-authenticate", b"Bearer")],
            )
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        too_large = error_body(
            f"request body over the limit of {self.max_body_bytes // 1024} KiB", "invalid_request_error", "request_too_large"
        )
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._drain(receive, int(declared))
            return await send_json(send, 413, too_large, [(b"connection", b"close")])
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._drain(receive, 0 if not more else 16 * self.max_body_bytes)
                return await send_json(send, 413, too_large, [(b"connection", b"close")])
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _drain(self, receive, up_to: int) -> None:
        """Read (and drop) what the client is still sending, up to a cap, so that it reads the
        413 instead of a reset connection."""
        seen = 0
        while seen < min(up_to, 64 * self.max_body_bytes):
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                return
