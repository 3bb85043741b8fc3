"""Embedding many passages at the model's own speed: longest first (in word pieces) in slices of
whole batches, so that similar lengths share a batch and pad little, each passage embedded once,
with a progress bar of our own (passages/s and time left) on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

BATCHES_PER_SLICE = 8


def embed_all(embedder, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
    """Rows in the order of `texts`."""
    dim = embedder.dim
    out = np.empty((len(texts), dim), dtype=np.float32)
    if not texts:
        return out
    pieces = embedder.count_tokens(texts)  # the model's own length: batches of equal lengths pad nothing
    order = sorted(range(len(texts)), key=lambda i: -pieces[i])
    step = max(1, int(getattr(embedder, "batch_size", 32))) * BATCHES_PER_SLICE
    bar = ProgressBar(len(texts)) if show_progress else None
    try:
        for start in range(0, len(order), step):
            rows = order[start:start + step]
            out[rows] = embedder.embed([texts[i] for i in rows])
            if bar:
                bar.advance(len(rows))
    finally:
        if bar:
            bar.close()
    return out


class ProgressBar:
    """`embedding ━━━━━━╸     1,234/5,678 passages  81/s  0:00:55 left`, redrawn in place on a
    terminal; elsewhere (logs, CI) one line every 10% so that nothing floods."""

    def __init__(self, total: int, label: str = "embedding", stream=None, unit: str = "passages"):
        self.total, self.label, self.done, self.unit = total, label, 0, unit
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self._last_tenth = -1

    def line(self) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        eta = "?" if left != left else time.strftime("%H:%M:%S", time.gmtime(left))
        return (f"{self.label} {'━' * filled}{' ' * (width - filled)} {self.done:,}/{self.total:,} {self.unit} "
                f"{rate:,.{0 if rate >= 10 else 1}f}/s {eta} left")

    def advance(self, n: int) -> None:
        self.done += n
        if self.tty:
            self.stream.write("\r" + self.line() + "\033[K")
            self.stream.flush()
            return
        tenth = int(10 * self.done / self.total) if self.total else 10
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
