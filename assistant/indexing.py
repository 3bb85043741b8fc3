"""Index a corpus: ingest → chunk → embed → store, incrementally, holding the index's writer lock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.background import Loading
from assistant.embedders import load_embedder
from assistant.ingest import DEFAULT_MAX_FILE_MB, ReadFiles, is_url, load_documents
from assistant.settings import BUNDLED_ARTICLES_DIR, Settings
from assistant.store import (
    LOCK_WAIT_S,
    BuildReport,
    ChunkAndEmbed,
    build_index,
    index_exists,
    read_manifest,
    writer_lock,
)


def index_paths(
    paths: Sequence[Path | str],
    settings: Settings,
    *,
    rebuild: bool = False,
    skip_bad: bool = False,
    warn: Callable[[str], None] | None = None,
    progress: Callable[[str], None] | None = None,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    lock_wait_s: float = LOCK_WAIT_S,
    ray: str | None = None,
    embedder=None,
    fetch_urls: bool = True,
) -> BuildReport:
    """Make the index mirror `paths`, folders, files and feed or page URLs (default: what it was last
    built from, else the bundled articles).
    Every input is read and checked before anything is written. Everything, from reading the
    previous manifest to the commit, happens under the writer lock, so two runs at once are
    serialised: the second starts from what the first committed, and no change is lost.

    `ray` (an address, or "local" for a runtime of this machine's own) reads, cleans, chunks and
    embeds on Ray (assistant/ray_index.py); what is written is the same. `embedder`: one already
    loaded (`assistant watch` keeps it between passes); `fetch_urls=False`: feeds and pages give
    what they gave last time, without asking (fetch.py's cache)."""
    with writer_lock(settings.index_dir, wait_s=lock_wait_s, notify=progress or warn):
        if ray is None:
            return _index_locked(paths, settings, rebuild, skip_bad, warn, progress, max_file_mb, embedder=embedder,
                                 fetch_urls=fetch_urls)
        from assistant import ray_index

        with ray_index.session(ray, progress=progress) as cpus:
            return _index_locked(paths, settings, rebuild, skip_bad, warn, progress, max_file_mb, on_ray=cpus)


def _index_locked(paths, settings, rebuild, skip_bad, warn, progress, max_file_mb, on_ray: int = 0, embedder=None,
                  fetch_urls: bool = True) -> BuildReport:
    if not paths:
        previous = read_manifest(settings.index_dir).get("sources") if index_exists(settings.index_dir) else None
        paths = [p if is_url(p) else Path(p) for p in previous] if previous else [settings.corpus]
    # The model (torch) loads while the files are read and cleaned. On Ray the actors embed; here
    # the query-time embedder (no torch) names the model and its dimension for the manifest.
    loading = Loading(lambda: embedder or load_embedder(settings.embedder, settings.embed_batch_size, for_indexing=not on_ray))
    skipped: list[str] = []
    read_files: ReadFiles | None = None
    chunk_and_embed: ChunkAndEmbed | None = None
    if on_ray:
        from assistant import ray_index

        read_files, chunk_and_embed = ray_index.read_files, ray_index.ChunkAndEmbedOnRay(settings, on_ray)
    documents = load_documents(paths, skip_bad=skip_bad, warn=warn, max_file_mb=max_file_mb, skipped=skipped,
                               read_files=read_files, fetch_urls=fetch_urls)
    embedder = loading.result()
    sources = [str(p) if is_url(p) else str(Path(p).resolve()) for p in paths]
    report = build_index(documents, settings, embedder, sources=sources, rebuild=rebuild, progress=progress,
                         chunk_and_embed=chunk_and_embed)
    report.skipped = len(skipped)
    return report


def ensure_index(settings: Settings, progress: Callable[[str], None] | None = None) -> BuildReport | None:
    """`ask` and `chat` index the bundled articles when there is no index yet."""
    if index_exists(settings.index_dir):
        return None
    if progress:
        progress(f"no index in {settings.index_dir}/ yet: indexing {settings.corpus}")
    with writer_lock(settings.index_dir, notify=progress):
        if index_exists(settings.index_dir):  # another run built it while this one waited
            return None
        return _index_locked([settings.corpus or BUNDLED_ARTICLES_DIR], settings, False, False, None, progress,
                             DEFAULT_MAX_FILE_MB)
