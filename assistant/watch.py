"""`assistant watch SOURCE ...`: keep the index mirroring folders, files and feeds as they change.

Files are polled: every `poll_s` the supported files under the sources are listed with their size
and modification time (a stat each, no reading), and when that listing has changed and then held
still for one more poll (a file being written is not read half-way), a pass runs. Feeds and pages
are fetched every `feed_every_s` (conditionally: fetch.py's cache); a pass for a file change
reuses what the feeds gave last time without asking again.

A pass is `assistant index SOURCES` itself (indexing.index_paths): under the writer lock, only new
or changed documents embedded, removed ones dropped, committed by one atomic rename, so a watcher
killed mid-commit leaves the previous generation whole and a restarted one picks up where it was.
`serve`, `chat` and `mcp` load the new generation before their next answer. The embedder stays
loaded between passes. The first pass, and each that changes the index, prints one line; unreadable files are
skipped with one line the first time they are seen. Ctrl-C (or SIGTERM) stops between passes: a
pass under way is finished first.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError
from assistant.ingest import DEFAULT_MAX_FILE_MB, is_url, iter_files
from assistant.settings import Settings
from assistant.store import BuildReport

Snapshot = dict[str, tuple[int, int]]  # file -> (size, mtime_ns)


@dataclass(frozen=True)
class WatchOptions:
    poll_s: float = 1.0  # how often the files are listed; a new file is indexed within ~2 polls + a pass
    feed_every_s: float = 300.0  # how often feeds and pages are fetched again
    max_file_mb: float = DEFAULT_MAX_FILE_MB


def snapshot(sources: Sequence[Path | str]) -> Snapshot:
    """Size and modification time of every supported file under the folder and file sources."""
    files: Snapshot = {}
    for path in iter_files([Path(s) for s in sources if not is_url(s)], [], None):
        try:
            st = os.stat(path)
        except OSError:  # gone between the listing and the stat: the next poll sees it gone
            continue
        files[str(path)] = (st.st_size, st.st_mtime_ns)
    return files


def describe(report: BuildReport) -> str:
    """One line for a pass: what it changed, and what the index then holds."""
    def named(ids: list[str]) -> str:
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        return f" ({shown})" if ids else ""

    return (f"{time.strftime('%H:%M:%S')} {len(report.added)} added{named(report.added)}, "
            f"{len(report.changed)} changed{named(report.changed)}, {len(report.removed)} removed{named(report.removed)}; "
            f"{report.documents} documents, {report.chunks} chunks")


class Watcher:
    def __init__(self, sources: Sequence[Path | str], settings: Settings, options: WatchOptions = WatchOptions(),
                 *, say: Callable[[str], None] = print, embedder=None):
        self.sources = list(sources)
        self.settings = settings
        self.options = options
        self.say = say
        self.embedder = embedder
        self.stop = threading.Event()
        self.passes = 0
        self._warned: set[str] = set()

    def _warn(self, message: str) -> None:
        if message not in self._warned:  # a bad file is reported once, not at every pass
            self._warned.add(message)
            self.say(message)

    def index_pass(self, fetch_urls: bool) -> BuildReport | None:
        from assistant.indexing import index_paths

        if self.embedder is None:
            from assistant.embedders import load_embedder

            self.embedder = load_embedder(self.settings.embedder, self.settings.embed_batch_size, for_indexing=True)
        try:
            report = index_paths(self.sources, self.settings, skip_bad=True, warn=self._warn,
                                 max_file_mb=self.options.max_file_mb, embedder=self.embedder, fetch_urls=fetch_urls)
        except AssistantError as e:  # an empty folder for now, an unreadable index: said, and watched on
            self._warn(f"{time.strftime('%H:%M:%S')} not indexed: {e}")
            return None
        self.passes += 1
        if report.added or report.changed or report.removed or self.passes == 1:  # the first says where it starts
            self.say(describe(report))
        return report

    def run(self) -> None:
        """Watch until `stop` is set (Ctrl-C, SIGTERM)."""
        has_urls = any(is_url(s) for s in self.sources)
        last = snapshot(self.sources)
        self.index_pass(fetch_urls=True)
        fetched = time.monotonic()
        pending: Snapshot | None = None
        while not self.stop.wait(self.options.poll_s):
            try:
                now = snapshot(self.sources)
            except AssistantError as e:  # a watched folder removed: said once, watched on
                self._warn(f"{time.strftime('%H:%M:%S')} {e}")
                continue
            due = has_urls and time.monotonic() - fetched >= self.options.feed_every_s
            settled = False
            if now == last:
                pending = None
            elif now != pending:
                pending = now  # changed: indexed once it holds still for a poll (not half-written)
            else:
                settled = True
            if settled or due:
                self.index_pass(fetch_urls=due)
                last, pending = now, None
                if due:
                    fetched = time.monotonic()


def watch(sources: Sequence[Path | str], settings: Settings, options: WatchOptions = WatchOptions(),
          say: Callable[[str], None] = print) -> Watcher:
    """Run a Watcher in this (main) thread until Ctrl-C or SIGTERM, which stop it between passes."""
    watcher = Watcher(sources, settings, options, say=say)

    def stop(signum, frame) -> None:
        if watcher.stop.is_set():  # a second Ctrl-C: stop now (a commit under way is atomic anyway)
            raise KeyboardInterrupt
        watcher.stop.set()
        say("stopping (after the pass under way, if any)")

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        watcher.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return watcher
