"""Where the CLI writes, and the one place library errors become one-line messages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

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


class StageLine:
    """While an answer is made, one line on `console`: a spinner, what is happening (searching,
    reading 12 sentences, writing) and the seconds since the question, ticking; it disappears when
    the answer starts to print (`stop`) or the block ends. Nothing on a console that is not a terminal."""

    def __init__(self, console: Console, enabled: bool = True):
        self.console = console
        self.enabled = enabled and console.is_terminal
        self.text = "searching"
        self._live: Any = None

    def __enter__(self) -> "StageLine":
        if self.enabled:
            import time

            from rich.live import Live
            from rich.spinner import Spinner

            started, spinner = time.monotonic(), Spinner("dots", style="cyan")
            line = self

            class _Render:
                def __rich_console__(self, console, options):
                    spinner.update(text=f"[dim]{escape(line.text)} · {time.monotonic() - started:.1f} s[/dim]")
                    yield spinner

            self._live = Live(_Render(), console=self.console, transient=True, refresh_per_second=10)
            self._live.start()
        return self

    def __call__(self, stage) -> None:
        self.text = stage.describe()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __exit__(self, *exc) -> None:
        self.stop()


def say(message: str) -> None:
    """Progress and warnings, dimmed, on stderr."""
    err.print(f"[dim]{escape(redact(message))}[/dim]")
