"""One worker thread runs every answer, in arrival order: the loaded model is single-threaded and
the Assistant answers one question at a time. A bounded number may wait (429 past that), and one
that cannot start within the wait limit is turned away (503)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any



class Emit:
    """What a running job hands to the request that asked: text pieces (`emit(piece)`) and, for
    routes that show them, the answer's stages (`emit.stage(data)`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, events: asyncio.Queue):
        self._loop, self._events = loop, events

    def __call__(self, piece: str) -> None:
        self._loop.call_soon_threadsafe(self._events.put_nowait, ("text", piece))

    def stage(self, data: dict) -> None:
        self._loop.call_soon_threadsafe(self._events.put_nowait, ("stage", data))


class Busy(Exception):
    """The queue is full (429) or the wait ran out (503)."""

    def __init__(self, status: int, message: str, retry_after: int = 1):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass
class Job:
    future: concurrent.futures.Future
    events: asyncio.Queue = field(repr=False)  # ("text", piece) and ("stage", data) ... then ("end", None)

    async def result(self) -> Any:
        return await asyncio.wrap_future(self.future)

    async def pieces(self):
        """The text the job emits, as it comes; ends when the job does."""
        async for kind, value in self.updates():
            if kind == "text":
                yield value

    async def updates(self):
        """("text", piece) and ("stage", data) as the job emits them; ends when the job does."""
        while True:
            kind, value = await self.events.get()
            if kind == "end":
                return
            yield kind, value


class Worker:
    def __init__(self, max_waiting: int = 32, wait_timeout_s: float = 300.0, before_each: Callable[[], None] | None = None):
        self.limit = max_waiting + 1  # waiting + the one running
        self.wait_timeout_s = wait_timeout_s
        self.before_each = before_each
        self.pending = 0  # touched only on the event loop's thread
        self.served = 0
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="assistant-worker")

    def _release(self) -> None:
        self.pending -= 1
        self.served += 1

    async def submit(self, fn: Callable[[Emit], Any]) -> Job:
        """Queue `fn(emit)`; returns once it has started. Raises Busy when it cannot be queued or started."""
        if self.pending >= self.limit:
            raise Busy(429, f"the server is busy: {self.pending - 1} questions are waiting; try again shortly")
        loop = asyncio.get_running_loop()
        started = asyncio.Event()
        events: asyncio.Queue = asyncio.Queue()
        emit = Emit(loop, events)

        def run() -> Any:
            loop.call_soon_threadsafe(started.set)
            try:
                if self.before_each:
                    self.before_each()
                return fn(emit)
            finally:
                loop.call_soon_threadsafe(events.put_nowait, ("end", None))
                loop.call_soon_threadsafe(self._release)

        self.pending += 1
        future = self._executor.submit(run)
        try:
            await asyncio.wait_for(started.wait(), self.wait_timeout_s)
        except asyncio.TimeoutError:
            if future.cancel():
                self.pending -= 1
                raise Busy(503, f"the server is busy: no answer could start within {self.wait_timeout_s:g} s; try again later", 10) from None
        except asyncio.CancelledError:  # the client went away while waiting
            if future.cancel():
                self.pending -= 1
            raise
        return Job(future, events)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
