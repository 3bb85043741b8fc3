"""The index on disk: FAISS vectors, BM25, chunk and document metadata (JSON lines), a manifest.

Layout: `<index>/CURRENT` names a generation folder `<index>/gen-*/` holding `manifest.json`,
`vectors.faiss`, `chunks.jsonl`, `documents.jsonl` and `bm25/`. An update keeps the chunks that
stay in their order and appends new ones; BM25 and an IVF index are updated, not rebuilt
(`_commit`). A build writes a new generation and then replaces CURRENT with one atomic rename, so
a build killed midway leaves the previous index loadable.

Writers hold `<index>/LOCK` (an flock; the file names the holder's pid): a second writer waits,
and a writer killed with SIGKILL releases it with its process, so a stale lock never blocks.
Readers take no lock: they read CURRENT once and then only that generation, whose manifest sits
inside it; the previous generation is kept, so a reader that was half way through it finishes.

The manifest holds a sha256 and a size per file: the size is checked at every load (cheap), the
sha256 when written and by `assistant index --verify`. Nothing here is pickled, and no file is
loaded in a format that could run code (numpy arrays are read with allow_pickle=False).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant import vector_index
from assistant.chunking import chunk_document
from assistant.embedding_run import embed_all
from assistant.errors import (
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexMissingError,
    IndexWriteError,
)
from assistant.model_files import file_sha256
from assistant.settings import INDEX_FORMAT_VERSION, Settings
from assistant.types import Chunk, Document

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
LOCK = "LOCK"
DATA_FILES = ("vectors.faiss", "chunks.jsonl", "documents.jsonl")
SHARDS_PREFIX = ".tmp-shards-"  # `index --ray`: the workers' shards, merged into the next generation
LOCK_WAIT_S = 1800.0  # a second writer waits this long for the first, then gives up with one line


@dataclass
class Index:
    path: Path  # the generation folder
    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: Any  # faiss index (flat or IVF), id i = chunks[i]
    bm25: Any  # lexical.BM25Index

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def vector_matrix(self) -> np.ndarray:
        n = self.vectors.ntotal
        return self.vectors.reconstruct_n(0, n) if n else np.zeros((0, self.dim), np.float32)


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0
    path: str = ""
    skipped: int = 0  # input files or records skipped, each with a warning


def current_generation_name(index_dir: Path) -> str | None:
    """What CURRENT names (one read), or None when there is no index."""
    pointer = Path(index_dir) / CURRENT
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise IndexCorruptError(f"cannot read {pointer} ({_reason(e)})") from None
    if not name.startswith("gen-") or "/" in name or "\\" in name:
        raise IndexCorruptError(f"{pointer} is damaged; rebuild with: assistant index --rebuild")
    return name


def _current_generation(index_dir: Path) -> Path:
    name = current_generation_name(index_dir)
    if name is None:
        raise IndexMissingError(f"no index in {index_dir}/; build one with: assistant index [FOLDER]")
    return Path(index_dir) / name


def index_exists(index_dir: Path) -> bool:
    return (Path(index_dir) / CURRENT).is_file()


def _manifest_of(gen: Path) -> dict:
    try:
        manifest = json.loads((gen / MANIFEST).read_text())
    except (OSError, ValueError):
        raise IndexCorruptError(
            f"{gen / MANIFEST} is missing or damaged; rebuild with: assistant index --rebuild"
        ) from None
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{gen / MANIFEST} is damaged; rebuild with: assistant index --rebuild")
    return manifest


def read_manifest(index_dir: Path) -> dict:
    """The manifest of the generation CURRENT names; retried when a writer commits meanwhile."""
    for attempt in range(3):
        gen = _current_generation(Path(index_dir))
        try:
            return _manifest_of(gen)
        except IndexCorruptError:
            if attempt == 2 or current_generation_name(Path(index_dir)) == gen.name:
                raise
    raise AssertionError("unreachable")


def check_compatible(manifest: dict, settings: Settings, index_dir: Path) -> None:
    want, have = settings.index_config(), manifest.get("config", {})
    if have == want:
        return
    diffs = ", ".join(f"{k}={have.get(k)!r} (settings: {want[k]!r})" for k in want if have.get(k) != want[k])
    raise IndexMismatchError(
        f"the index in {index_dir}/ was built with {diffs}; rebuild it with: assistant index --rebuild"
    )


def _check_files(gen: Path, manifest: dict, *, full: bool) -> int:
    """Every file the manifest lists is there with its size; with `full` (or an old manifest
    without sizes), its sha256 too. Returns how many files were checked."""
    files = manifest.get("files", {})
    sizes = manifest.get("sizes")
    if not isinstance(files, dict) or not files:
        raise IndexCorruptError(f"{gen / MANIFEST} lists no files; rebuild with: assistant index --rebuild")
    for rel, digest in files.items():
        f = gen / rel
        damaged = IndexCorruptError(f"{f} is truncated or damaged; rebuild with: assistant index --rebuild")
        try:
            size = f.stat().st_size
        except OSError:
            raise damaged from None
        if isinstance(sizes, dict) and sizes.get(rel) != size:
            raise damaged
        if full or not isinstance(sizes, dict):
            try:
                if file_sha256(f) != digest:
                    raise damaged
            except OSError:
                raise damaged from None
    return len(files)


def load_index(settings: Settings, *, check: bool = True) -> Index:
    """The index CURRENT names. CURRENT is read once per attempt; when a writer commits (and so may
    remove the generation being read) the new one is read instead."""
    index_dir = Path(settings.index_dir)
    for attempt in range(3):
        gen = _current_generation(index_dir)
        try:
            return _load_generation(gen, settings, check=check)
        except IndexCorruptError:
            if attempt == 2 or current_generation_name(index_dir) == gen.name:
                raise
    raise AssertionError("unreachable")


def verify_index(settings: Settings) -> int:
    """`assistant index --verify`: every file's sha256 against the manifest; returns the file count."""
    index_dir = Path(settings.index_dir)
    gen = _current_generation(index_dir)
    n = _check_files(gen, _manifest_of(gen), full=True)
    _load_generation(gen, settings, check=False)
    return n


def _load_generation(gen: Path, settings: Settings, *, check: bool) -> Index:
    from assistant.lexical import BM25Index

    index_dir = gen.parent
    manifest = _manifest_of(gen)
    if manifest.get("format_version") != INDEX_FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {index_dir}/ has format {manifest.get('format_version')}, this version reads "
            f"{INDEX_FORMAT_VERSION}; rebuild it with: assistant index --rebuild"
        )
    if check:
        check_compatible(manifest, settings, index_dir)
    _check_files(gen, manifest, full=False)
    try:
        documents = {
            d["id"]: Document(**d) for d in map(json.loads, (gen / "documents.jsonl").read_text().splitlines())
        }
        chunks = [Chunk(**c) for c in map(json.loads, (gen / "chunks.jsonl").read_text().splitlines())]
        vectors = vector_index.read(gen / "vectors.faiss")  # memory-mapped where FAISS can
        bm25 = BM25Index.load(gen / "bm25")
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as e:
        raise IndexCorruptError(
            f"the index in {index_dir}/ cannot be read ({type(e).__name__}); rebuild with: assistant index --rebuild"
        ) from None
    if vectors.ntotal != len(chunks) or vectors.d != manifest.get("dim"):
        raise IndexCorruptError(f"the index in {index_dir}/ is inconsistent; rebuild with: assistant index --rebuild")
    return Index(gen, manifest, documents, chunks, vectors, bm25)


# -- the writer lock ------------------------------------------------------------------------------

def _reason(e: BaseException) -> str:
    """An OSError as a few words, without the path (the message names it)."""
    if isinstance(e, OSError) and e.errno is not None:
        return os.strerror(e.errno).lower()
    return type(e).__name__


def _lock_holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
    except OSError:
        return "?"


_held: set[tuple[str, int]] = set()  # (index folder, thread) this process holds the lock for


@contextlib.contextmanager
def writer_lock(
    index_dir: Path, *, wait_s: float = LOCK_WAIT_S, notify: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold `<index>/LOCK` while writing the index. The lock is an flock, so the kernel releases it
    when its holder dies (a SIGKILLed build leaves no stale lock); the file names the holder's pid
    for the message a waiting writer prints."""
    import fcntl

    index_dir = Path(index_dir)
    key = (os.path.realpath(index_dir), threading.get_ident())
    if key in _held:  # re-entered by the same thread (build_index inside index_paths)
        yield
        return
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise IndexWriteError(f"cannot write the index in {index_dir}/ ({_reason(e)})") from None
    _held.add(key)
    try:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _lock_holder(fd)
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"another indexing run (pid {holder}) is writing {index_dir}/; try again when it has finished"
                    ) from None
                if not told and notify:
                    notify(f"waiting for another indexing run (pid {holder}) to finish writing {index_dir}/")
                    told = True
                time.sleep(0.1)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        _held.discard(key)
        os.close(fd)  # releases the flock


def embedding_input(chunk: Chunk, doc: Document, embed_titles: bool) -> str:
    if embed_titles and doc.title:
        return f"{' '.join(doc.title.split()[:32])}\n{chunk.text}"
    return chunk.text


def build_index(
    documents: Sequence[Document],
    settings: Settings,
    embedder,
    *,
    sources: Sequence[str] = (),
    rebuild: bool = False,
    progress: Callable[[str], None] | None = None,
    chunk_and_embed: ChunkAndEmbed | None = None,
) -> BuildReport:
    """Make the index hold exactly `documents`, embedding only what is new or changed; under the
    writer lock (re-entered when the caller holds it), so a concurrent build cannot be lost.
    `chunk_and_embed` chunks and embeds the new or changed documents elsewhere (`assistant index
    --ray`: assistant/ray_index.py); by default here, with `embedder`."""
    with writer_lock(Path(settings.index_dir), notify=progress):
        return _build_locked(documents, settings, embedder, sources, rebuild, progress, chunk_and_embed)


# (documents to chunk and embed, progress) -> (their chunks in document order, one vector a chunk)
ChunkAndEmbed = Callable[[list[Document], Callable[[str], None] | None], tuple[list[Chunk], np.ndarray]]


def chunk_and_embed_here(
    documents: list[Document], settings: Settings, embedder, progress: Callable[[str], None] | None = None,
    *, show_progress: bool = True,
) -> tuple[list[Chunk], np.ndarray]:
    """Chunk `documents` (in order) and embed every chunk, in this process (or in one Ray actor,
    which shows no bar of its own: `show_progress=False`)."""
    chunks = [c for doc in documents
              for c in chunk_document(doc, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap_tokens)]
    if chunks and progress:
        progress(f"embedding {len(chunks)} chunks from {len(documents)} documents")
    by_id = {d.id: d for d in documents}
    vectors = embed_all(  # longest first, our own progress bar
        embedder, [embedding_input(c, by_id[c.doc_id], settings.embed_titles) for c in chunks],
        show_progress=show_progress and len(chunks) > 64,
    )
    return chunks, vectors


def _build_locked(documents, settings, embedder, sources, rebuild, progress, chunk_and_embed=None) -> BuildReport:
    started = time.perf_counter()
    index_dir = Path(settings.index_dir)
    report = BuildReport(path=str(index_dir))
    old: Index | None = None
    if not rebuild and index_exists(index_dir):
        old = load_index(settings)  # raises on mismatch: the user must choose --rebuild
    old_hashes = old.manifest["documents"] if old else {}

    # The chunks of unchanged documents stay where they are (old order); new chunks go after them.
    wanted = {d.id: d.content_hash for d in documents}
    kept_rows = [row for row, c in enumerate(old.chunks)
                 if wanted.get(c.doc_id) is not None and wanted[c.doc_id] == old_hashes.get(c.doc_id)] if old else []
    kept_docs = {old.chunks[r].doc_id for r in kept_rows} if old else set()
    to_embed: list[Document] = []
    for doc in documents:
        if doc.id in kept_docs:
            report.unchanged += 1
            continue
        (report.changed if old_hashes.get(doc.id) else report.added).append(doc.id)
        to_embed.append(doc)
    report.removed = sorted(set(old_hashes) - set(wanted))

    if chunk_and_embed is not None and to_embed:
        new_chunks, new_vectors = chunk_and_embed(to_embed, progress)
    else:
        new_chunks, new_vectors = chunk_and_embed_here(to_embed, settings, embedder, progress)
    by_id = {d.id: d for d in to_embed}
    report.embedded_chunks = len(new_chunks)
    manifest = {
        "format_version": INDEX_FORMAT_VERSION,
        "config": settings.index_config(),
        "fingerprint": settings.index_fingerprint(),
        "embedder": embedder.model_id,
        "dim": embedder.dim,
        "sources": list(sources),
    }
    n_chunks = _commit(index_dir, settings, manifest, old, documents, np.asarray(kept_rows, np.int64),
                       [(c, by_id[c.doc_id]) for c in new_chunks], new_vectors, progress)
    report.documents, report.chunks = len(documents), n_chunks
    report.seconds = time.perf_counter() - started
    return report


def _commit(index_dir: Path, settings: Settings, manifest: dict, old: Index | None, documents: Sequence[Document],
            kept_rows: np.ndarray, new: Sequence[tuple[Chunk, Document]], new_vectors: np.ndarray,
            progress: Callable[[str], None] | None) -> int:
    """Write the generation holding `documents`: old's chunks `kept_rows` (ascending), then `new`.
    Neither the vectors nor BM25 are rebuilt from everything: the IVF index gets the new rows added
    and the removed ones removed (retrained only past settings.ivf_retrain_growth), BM25 tokenizes
    only the new chunks. Returns the number of chunks. Call with the writer lock held."""
    from assistant.lexical import BM25Index

    chunks = ([old.chunks[r] for r in kept_rows] if old else []) + [c for c, _ in new]
    n = len(chunks)
    threshold = settings.ivf_threshold or n + 1
    dim = int(manifest["dim"])
    new_vectors = np.asarray(new_vectors, dtype=np.float32).reshape(-1, dim)
    if old is not None and old.vectors.ntotal:
        trained_on = int(old.manifest.get("ivf_trained_on", old.vectors.ntotal if vector_index.is_ivf(old.vectors) else 0))
        vectors, trained_on = vector_index.update(
            old.vectors, old.path / "vectors.faiss", kept_rows, new_vectors, threshold=threshold, trained_on=trained_on,
            retrain_growth=settings.ivf_retrain_growth, codec=settings.ivf_codec, target_recall=settings.ivf_recall,
            log=progress)
    else:
        vectors = vector_index.build(new_vectors, threshold=threshold, codec=settings.ivf_codec,
                                     target_recall=settings.ivf_recall, log=progress)
        trained_on = n if vector_index.is_ivf(vectors) else 0

    new_texts = [embedding_input(c, d, settings.embed_titles) for c, d in new]
    if old is not None and len(kept_rows) and not old.bm25.has_counts:  # an index written before counts were stored
        by_id = {d.id: d for d in documents}
        old_texts = [embedding_input(old.chunks[r], by_id[old.chunks[r].doc_id], settings.embed_titles) for r in kept_rows]
        bm25 = BM25Index.build(old_texts + new_texts)
    else:
        bm25 = BM25Index.update(old.bm25 if old is not None else None, kept_rows, new_texts)
    manifest = {
        **manifest,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "documents": {d.id: d.content_hash for d in documents},
        "n_chunks": n,
        "ivf_trained_on": trained_on,  # vectors the IVF index was trained on (0: exact), for retraining
    }
    _write_generation(index_dir, manifest, documents, chunks, vectors, bm25)
    return n


def remove_documents(settings: Settings, items: Sequence[str],
                     progress: Callable[[str], None] | None = None) -> BuildReport:
    """`assistant index --remove`: drop documents, named by id or by the file they came from (a
    .jsonl file: all its records), without embedding or re-tokenizing anything. An item that names
    no indexed document is an error and nothing is written."""
    with writer_lock(Path(settings.index_dir), notify=progress):
        started = time.perf_counter()
        index_dir = Path(settings.index_dir)
        old = load_index(settings, check=False)  # removing needs no embedder: any compatible build will do
        ids = resolve_documents(old.documents.values(), items)
        report = BuildReport(path=str(index_dir), removed=sorted(ids))
        documents = [d for d in old.documents.values() if d.id not in ids]
        kept_rows = np.asarray([r for r, c in enumerate(old.chunks) if c.doc_id not in ids], np.int64)
        manifest = {k: old.manifest[k] for k in ("format_version", "config", "fingerprint", "embedder", "dim", "sources")
                    if k in old.manifest}
        report.chunks = _commit(index_dir, settings, manifest, old, documents, kept_rows, [],
                                np.zeros((0, old.dim), np.float32), progress)
        report.documents, report.unchanged = len(documents), len(documents)
        report.seconds = time.perf_counter() - started
        return report


def resolve_documents(documents, items: Sequence[str]) -> set[str]:
    """The ids of the documents each item names: a document id, or the path of the file (or .jsonl
    file) it was read from. Raises ConfigError naming every item that matches nothing."""
    from assistant.errors import ConfigError

    documents = list(documents)
    by_id = {d.id for d in documents}
    by_path: dict[str, set[str]] = {}
    for d in documents:
        if d.path:
            file = d.path.rsplit(":", 1)[0] if d.path.rsplit(":", 1)[-1].isdigit() else d.path
            by_path.setdefault(os.path.realpath(file), set()).add(d.id)
            by_path.setdefault(file, set()).add(d.id)  # as it was given when indexed (maybe relative)
    found: set[str] = set()
    unknown: list[str] = []
    for item in items:
        if item in by_id:
            found.add(item)
        elif item in by_path or os.path.realpath(item) in by_path:
            found |= by_path.get(item) or by_path[os.path.realpath(item)]
        else:
            unknown.append(item)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ConfigError(f"not in the index: {shown} (give document ids or the files they were indexed from); "
                          "nothing was removed")
    if not items:
        raise ConfigError("name the documents to remove (ids or files)")
    return found


def _write_generation(index_dir: Path, manifest: dict, documents, chunks, vectors, bm25) -> None:
    """Write a new generation and make it CURRENT; on any failure (a full disk, a read-only folder)
    nothing is left behind and the previous index stays CURRENT. Call with the writer lock held."""
    import faiss

    previous = current_generation_name(index_dir) if index_exists(index_dir) else None
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.time_ns() % 1_000_000:06d}"
    tmp = index_dir / f".tmp-{name}"
    final = index_dir / name
    pointer_tmp = index_dir / f".{CURRENT}.{os.getpid()}"
    committed = False
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        with open(tmp / "documents.jsonl", "w", encoding="utf-8") as f:
            for d in documents:
                row = dataclasses.asdict(d)
                if not row["pages"]:  # only PDFs and Word files have pages: other rows stay as they were
                    del row["pages"]
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
            for c in chunks:
                f.write(json.dumps(dataclasses.asdict(c), ensure_ascii=False) + "\n")
        faiss.write_index(vectors, str(tmp / "vectors.faiss"))
        bm25.save(tmp / "bm25")
        for p in tmp.rglob("*"):
            if p.is_file():
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
        written = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest["files"] = {str(p.relative_to(tmp)): file_sha256(p) for p in written}
        manifest["sizes"] = {str(p.relative_to(tmp)): p.stat().st_size for p in written}
        with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
            f.write(json.dumps(manifest, indent=1, ensure_ascii=False))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        with open(pointer_tmp, "w", encoding="utf-8") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(pointer_tmp, index_dir / CURRENT)  # the commit point
        committed = True
        _fsync_dir(index_dir)
    except (OSError, RuntimeError) as e:  # faiss reports a failed write as RuntimeError
        if not committed:
            _discard(tmp, final, pointer_tmp)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            why = "no space left on the disk"
        elif isinstance(e, OSError):
            why = _reason(e)
        else:
            why = "a file could not be written; is the disk full?"
        kept = "the previous index is kept" if previous else "no index was written"
        raise IndexWriteError(f"cannot write the index in {index_dir}/ ({why}); {kept}") from None
    except BaseException:
        if not committed:
            _discard(tmp, final, pointer_tmp)
        raise
    _remove_old_generations(index_dir, keep={name, previous or name})


def _discard(*paths: Path) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_old_generations(index_dir: Path, keep: set[str]) -> None:
    """Runs with the writer lock held, so no other build is under way: every other generation is
    old, and a .tmp- folder is what a killed build left. The previous generation is kept for
    readers that were loading it when CURRENT moved."""
    for p in index_dir.iterdir():
        if p.name in keep:
            continue
        if p.is_dir() and (p.name.startswith(("gen-", ".tmp-gen-", SHARDS_PREFIX))):
            shutil.rmtree(p, ignore_errors=True)
        elif p.name.startswith(f".{CURRENT}."):  # a pointer a killed build had not yet committed
            _discard(p)
