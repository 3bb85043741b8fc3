"""Where the CLI writes, and the one place library errors become one-line messages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.markup import escape

from assistant.errors import AssistantError, redact

out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # soft wrap: an error stays on one line


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Library errors become one line on stderr and exit status 1; never a traceback."""
    from pydantic import ValidationError

    try:
        yield
    except AssistantError as e:
        err.print(f"[red]error:[/red] {escape(one_line(str(e)))}")
        raise typer.Exit(1) from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "setting"
        err.print(f"[red]error:[/red] {escape(one_line(where))}: {escape(one_line(first.get('msg', 'invalid value')))}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None


def one_line(message: str) -> str:
    """An error message as the user sees it: one line, no API key."""
    return redact(" ".join(message.split()))


def say(message: str) -> None:
    """Progress and warnings, dimmed, on stderr."""
    err.print(f"[dim]{escape(redact(message))}[/dim]")
