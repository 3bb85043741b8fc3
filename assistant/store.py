"""The index on disk: FAISS vectors, BM25, chunk and document metadata (JSON lines), a manifest.

Layout: `<index>/CURRENT` names a generation folder `<index>/gen-*/` holding `manifest.json`,
`vectors.faiss`, `chunks.jsonl`, `documents.jsonl` and `bm25/`. A build writes a new generation
and then replaces CURRENT with one atomic rename, so a build killed midway leaves the previous
index loadable. The manifest holds a sha256 per file: a truncated or altered file is caught on load.
Nothing here is pickled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant import vector_index
from assistant.chunking import chunk_document
from assistant.embedding_run import embed_all
from assistant.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from assistant.settings import INDEX_FORMAT_VERSION, Settings
from assistant.types import Chunk, Document

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
DATA_FILES = ("vectors.faiss", "chunks.jsonl", "documents.jsonl")


@dataclass
class Index:
    path: Path
    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: object  # faiss.IndexFlatIP, row i = chunks[i]
    bm25: object  # lexical.BM25Index

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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text().strip()
    if not name.startswith("gen-") or "/" in name:
        raise IndexCorruptError(f"{pointer} is damaged; rebuild with: assistant index --rebuild")
    return index_dir / name


def index_exists(index_dir: Path) -> bool:
    return (Path(index_dir) / CURRENT).is_file()


def read_manifest(index_dir: Path) -> dict:
    gen = _current_generation(Path(index_dir))
    if gen is None:
        raise IndexMissingError(f"no index in {index_dir}/; build one with: assistant index [FOLDER]")
    try:
        return json.loads((gen / MANIFEST).read_text())
    except (OSError, ValueError):
        raise IndexCorruptError(
            f"{gen / MANIFEST} is missing or damaged; rebuild with: assistant index --rebuild"
        ) from None


def check_compatible(manifest: dict, settings: Settings, index_dir: Path) -> None:
    want, have = settings.index_config(), manifest.get("config", {})
    if have == want:
        return
    diffs = ", ".join(f"{k}={have.get(k)!r} (settings: {want[k]!r})" for k in want if have.get(k) != want[k])
    raise IndexMismatchError(
        f"the index in {index_dir}/ was built with {diffs}; rebuild it with: assistant index --rebuild"
    )


def load_index(settings: Settings, *, check: bool = True) -> Index:
    from assistant.lexical import BM25Index

    index_dir = Path(settings.index_dir)
    manifest = read_manifest(index_dir)
    gen = _current_generation(index_dir)
    if manifest.get("format_version") != INDEX_FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {index_dir}/ has format {manifest.get('format_version')}, this version reads "
            f"{INDEX_FORMAT_VERSION}; rebuild it with: assistant index --rebuild"
        )
    if check:
        check_compatible(manifest, settings, index_dir)
    for rel, digest in manifest.get("files", {}).items():
        f = gen / rel
        if not f.is_file() or _sha256(f) != digest:
            raise IndexCorruptError(f"{f} is truncated or damaged; rebuild with: assistant index --rebuild")
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
    if vectors.ntotal != len(chunks):
        raise IndexCorruptError(f"the index in {index_dir}/ is inconsistent; rebuild with: assistant index --rebuild")
    return Index(gen, manifest, documents, chunks, vectors, bm25)


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
) -> BuildReport:
    """Make the index hold exactly `documents`, embedding only what is new or changed."""
    from assistant.lexical import BM25Index

    started = time.perf_counter()
    index_dir = Path(settings.index_dir)
    report = BuildReport(path=str(index_dir))
    old: Index | None = None
    if not rebuild and index_exists(index_dir):
        old = load_index(settings)  # raises on mismatch: the user must choose --rebuild
    old_hashes = old.manifest["documents"] if old else {}

    reused_vectors: list[np.ndarray] = []
    chunks: list[Chunk] = []
    to_embed: list[tuple[Chunk, Document]] = []
    old_rows = {}
    if old:
        matrix = old.vector_matrix()
        for row, c in enumerate(old.chunks):
            old_rows.setdefault(c.doc_id, []).append(row)
    for doc in documents:
        previous = old_hashes.get(doc.id)
        if previous and previous == doc.content_hash and old and doc.id in old_rows:
            rows = old_rows[doc.id]
            chunks.extend(old.chunks[r] for r in rows)
            reused_vectors.append(matrix[rows])
            report.unchanged += 1
            continue
        (report.changed if previous else report.added).append(doc.id)
        new_chunks = chunk_document(doc, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap_tokens)
        to_embed.extend((c, doc) for c in new_chunks)
    report.removed = sorted(set(old_hashes) - {d.id for d in documents})

    if to_embed and progress:
        progress(f"embedding {len(to_embed)} chunks from {len(report.added) + len(report.changed)} documents")
    new_vectors = embed_all(  # longest first, our own progress bar
        embedder, [embedding_input(c, d, settings.embed_titles) for c, d in to_embed], show_progress=len(to_embed) > 64
    )
    chunks.extend(c for c, _ in to_embed)
    report.embedded_chunks = len(to_embed)
    matrix = np.vstack(reused_vectors + [new_vectors]) if chunks else np.zeros((0, embedder.dim), np.float32)

    vectors = vector_index.build(matrix, threshold=settings.ivf_threshold or len(matrix) + 1,
                                 codec=settings.ivf_codec, target_recall=settings.ivf_recall, log=progress)
    by_id = {d.id: d for d in documents}
    bm25 = BM25Index.build([embedding_input(c, by_id[c.doc_id], settings.embed_titles) for c in chunks])
    manifest = {
        "format_version": INDEX_FORMAT_VERSION,
        "config": settings.index_config(),
        "fingerprint": settings.index_fingerprint(),
        "embedder": embedder.model_id,
        "dim": embedder.dim,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sources": list(sources),
        "documents": {d.id: d.content_hash for d in documents},
        "n_chunks": len(chunks),
    }
    _write_generation(index_dir, manifest, documents, chunks, vectors, bm25)
    report.documents, report.chunks = len(documents), len(chunks)
    report.seconds = time.perf_counter() - started
    return report


def _write_generation(index_dir: Path, manifest: dict, documents, chunks, vectors, bm25) -> None:
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.time_ns() % 1_000_000:06d}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    try:
        with open(tmp / "documents.jsonl", "w", encoding="utf-8") as f:
            for d in documents:
                f.write(json.dumps(dataclasses.asdict(d), ensure_ascii=False) + "\n")
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
            for c in chunks:
                f.write(json.dumps(dataclasses.asdict(c), ensure_ascii=False) + "\n")
        faiss.write_index(vectors, str(tmp / "vectors.faiss"))
        bm25.save(tmp / "bm25")
        manifest["files"] = {
            str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        for p in tmp.rglob("*"):
            if p.is_file():
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
        final = index_dir / name
        os.replace(tmp, final)
        pointer_tmp = index_dir / f".{CURRENT}.{os.getpid()}"
        pointer_tmp.write_text(name + "\n")
        with open(pointer_tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(pointer_tmp, index_dir / CURRENT)  # the commit point
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_old_generations(index_dir, keep=name)


def _remove_old_generations(index_dir: Path, keep: str) -> None:
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != keep and (p.name.startswith("gen-") or p.name.startswith(".tmp-gen-")):
            # A .tmp- folder of a concurrent build is young; leave those alone.
            if p.name.startswith(".tmp-") and time.time() - p.stat().st_mtime < 3600:
                continue
            shutil.rmtree(p, ignore_errors=True)
