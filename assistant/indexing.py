"""Index a corpus: ingest → chunk → embed → store, incrementally."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.background import Loading
from assistant.embedders import load_embedder
from assistant.ingest import load_documents
from assistant.settings import BUNDLED_ARTICLES_DIR, Settings
from assistant.store import BuildReport, build_index, index_exists, read_manifest


def index_paths(
    paths: Sequence[Path],
    settings: Settings,
    *,
    rebuild: bool = False,
    skip_bad: bool = False,
    warn: Callable[[str], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildReport:
    """Make the index mirror `paths` (default: what it was last built from, else the bundled articles).
    Every input is read and checked before anything is written."""
    if not paths:
        previous = read_manifest(settings.index_dir).get("sources") if index_exists(settings.index_dir) else None
        paths = [Path(p) for p in previous] if previous else [settings.corpus]
    # The model (torch) loads while the files are read and cleaned.
    loading = Loading(lambda: load_embedder(settings.embedder, settings.embed_batch_size, for_indexing=True))
    documents = load_documents(paths, skip_bad=skip_bad, warn=warn)
    embedder = loading.result()
    sources = [str(Path(p).resolve()) for p in paths]
    return build_index(documents, settings, embedder, sources=sources, rebuild=rebuild, progress=progress)


def ensure_index(settings: Settings, progress: Callable[[str], None] | None = None) -> BuildReport | None:
    """`ask` and `chat` index the bundled articles when there is no index yet."""
    if index_exists(settings.index_dir):
        return None
    if progress:
        progress(f"no index in {settings.index_dir}/ yet: indexing {settings.corpus}")
    return index_paths([settings.corpus or BUNDLED_ARTICLES_DIR], settings, progress=progress)
