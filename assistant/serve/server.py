"""Start uvicorn on the app, after checking the address is free (a one-line error if not)."""

from __future__ import annotations

import ipaddress
import socket

from assistant.api import Assistant
from assistant.errors import ConfigError
from assistant.serve.app import ServeOptions, create_app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another with --port or --host") from None


def run(bot: Assistant, options: ServeOptions) -> None:
    import uvicorn

    uvicorn.run(create_app(bot, options), host=options.host, port=options.port, log_level="info",
                timeout_graceful_shutdown=5)
