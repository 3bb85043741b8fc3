"""Shared by the robustness tests: a cheap deterministic embedder (for tests of the store and the
ingest at scale, where the model is not what is tested), CLI checks, and tmpfs mounts."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


class HashEmbedder:
    """Words hashed into 32 dimensions; a token is a word. Same text, same vector, in any process."""

    model_id = "all-MiniLM-L6-v2"
    dim = 32

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.encode()).hexdigest()[:4], 16) % self.dim] += 1.0
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]


def use_hash_embedder(monkeypatch) -> HashEmbedder:
    embedder = HashEmbedder()
    monkeypatch.setattr("assistant.indexing.load_embedder", lambda *a, **k: embedder)
    return embedder


def article(n: int, topic: str = "the harbour") -> str:
    """A small article the cleaner keeps: a title line and three prose sentences."""
    return (
        f"Report number {n} on {topic}\n\n"
        f"The council of town {n} met on Tuesday to discuss {topic} and its budget for next year. "
        f"Residents of town {n} asked questions about {topic} for more than two hours. "
        f"A decision on {topic} in town {n} is expected before the end of the month.\n"
    )


def one_line_error(result, *words: str) -> str:
    """A CliRunner or subprocess result that failed with exit 1, its last line on stderr the only
    error line (progress lines may come before it), no traceback."""
    code = getattr(result, "exit_code", None)
    code = result.returncode if code is None else code
    assert code == 1, (code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    exception = getattr(result, "exception", None)
    assert exception is None or isinstance(exception, SystemExit), repr(exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error:"), result.stderr
    assert not [line for line in lines[:-1] if "error" in line.lower()], result.stderr
    for word in words:
        assert word in lines[-1], lines[-1]
    return lines[-1]


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """`python -m assistant ...` in a fresh process, from the repository (this checkout's code)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSISTANT_LLM": "extractive", "PYTHONUNBUFFERED": "1",
                **(env or {})}
    return subprocess.run([PYTHON, "-m", "assistant", *args], cwd=REPO, env=full_env, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at `where` (root only: CI runs as root)."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"cannot mount a tmpfs: {done.stderr}"
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount_read_only(where: Path) -> None:
    done = subprocess.run(["mount", "-o", "remount,ro", str(where)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def peak_rss_mb(code: str, timeout: float = 600) -> tuple[float, str]:
    """Run `code` in a fresh Python from the repository; its peak resident memory (MB) and stdout."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child of a test process
    # that has loaded torch would report the parent's gigabyte.
    wrapped = code + ("\nprint('PEAK_KB', next(int(line.split()[1]) for line in open('/proc/self/status')"
                      " if line.startswith('VmHWM:')))\n")
    done = subprocess.run([PYTHON, "-c", wrapped], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    peak = next(int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("PEAK_KB"))
    return peak / 1024, done.stdout
