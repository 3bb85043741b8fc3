"""`assistant index --ray ADDRESS`: reading, cleaning, chunking and embedding on a Ray cluster.

Only *where* the work runs differs from a plain `assistant index`; the functions are the same:

1. The files are listed here (`ingest.iter_files`), then read and cleaned by Ray Data tasks
   (`map_batches` of `ingest.read_file`); the results come back as JSON and are accepted here,
   in file order, by `ingest.load_documents` (duplicates, unique ids, warnings), exactly as when
   the files are read in this process.
2. `store.build_index` decides which documents are new or changed (unchanged ones keep their
   vectors and are not sent anywhere) and hands those to `ChunkAndEmbedOnRay`: a Ray Dataset of
   documents, `map_batches` over a pool of embedding actors, each of which loads the model once
   and runs `chunking.chunk_document` and `embedding_run.embed_all` on its batches. Each batch's
   result is written as a shard, `<name>.npy` (float32 vectors, read back with
   allow_pickle=False) and `<name>.jsonl` (its chunks), in a `.tmp-shards-*` folder inside the
   index folder; nothing is pickled to disk.
3. The shards are read back in document order and `build_index` writes the generation as always:
   same manifest, same sha256s, same BM25, same FAISS index.

The actors write their shards into the index folder, so on a cluster of several machines that
folder must be on storage every node sees (NFS, a mounted bucket); a local runtime needs nothing.
Ray is imported only here, and this module only when --ray is given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import AssistantError, ConfigError
from assistant.ingest import FileResult
from assistant.settings import PACKAGE_DIR, Settings
from assistant.types import Chunk, Document

INSTALL_HINT = "pip install '.[ray]' (or: pip install 'ray[data]')"
LOCAL = "local"
FILES_PER_TASK = 16


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is an extra of ray: check it too
    except ImportError:
        raise ConfigError(f"--ray needs Ray Data, which is not installed; install it with: {INSTALL_HINT}") from None
    return ray


@contextlib.contextmanager
def session(address: str, *, num_cpus: int | None = None, progress: Callable[[str], None] | None = None) -> Iterator[int]:
    """Connected to Ray for the `with` block; yields the cluster's CPU count. `local` starts a
    private runtime on 127.0.0.1 (no dashboard, no usage statistics) that ends with the block;
    `auto` joins the cluster this machine is part of (`ray start`); anything else is the address
    of a cluster's head (`HOST:6379` or `ray://HOST:10001`)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = _import_ray()
    logging.getLogger("ray").setLevel(logging.WARNING)
    # A new local runtime turns Ray's token authentication on and says so; it stays on, unsaid.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    # The workers import this very package (a checkout, or an installed copy) and run offline.
    runtime_env = {
        "py_modules": [str(PACKAGE_DIR)],
        "excludes": ["__pycache__", "*.pyc"],
        "env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                     "RAY_USAGE_STATS_ENABLED": "0"},
    }
    started = time.perf_counter()
    # A local runtime gets two tries: Ray gives its raylet a fixed 30 s to register, which a
    # heavily loaded machine can miss.
    for attempt in (1, 2) if address == LOCAL else (2,):
        try:
            if address == LOCAL:
                ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=num_cpus or os.cpu_count() or 1,
                         include_dashboard=False, log_to_driver=False, configure_logging=False, runtime_env=runtime_env)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False, runtime_env=runtime_env)
            break
        except Exception as e:  # noqa: BLE001 - Ray raises bare Exceptions (a raylet that did not start)
            with contextlib.suppress(Exception):
                ray.shutdown()
            if attempt == 2:
                where = "start a local Ray runtime" if address == LOCAL else f"connect to the Ray cluster at {address}"
                why = (str(e).strip().splitlines() or [""])[0]
                raise ConfigError(f"cannot {where} ({type(e).__name__}: {why})") from None
            if progress:
                progress(f"the local Ray runtime did not start ({type(e).__name__}); trying once more")
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if progress:
            progress(f"Ray: {cpus} CPUs ({'local runtime' if address == LOCAL else address}), "
                     f"connected in {time.perf_counter() - started:.1f} s")
        _quiet_ray_data()
        yield cpus
    finally:
        ray.shutdown()  # ends a local runtime; disconnects from a cluster


def _quiet_ray_data() -> None:
    """No Ray Data progress bars or execution banners: our own progress lines instead."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    for name, value in (("enable_progress_bars", False), ("print_on_execution_start", False),
                        ("enable_operator_progress_bars", False), ("enable_rich_progress_bars", False)):
        if hasattr(ctx, name):
            setattr(ctx, name, value)
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # not even "progress bars disabled"


def _worker_failure(e: Exception) -> AssistantError:
    """A task's exception, re-raised on the driver inside Ray's wrapper, as one line."""
    cause = getattr(e, "cause", None) or e
    if isinstance(cause, AssistantError):
        return type(cause)(str(cause))
    first = (str(cause).strip().splitlines() or [""])[-1]
    return ConfigError(f"a Ray worker failed ({type(cause).__name__}: {first})")


# -- 1. reading and cleaning ---------------------------------------------------------------------

def _read_batch(batch: dict, max_bytes: int) -> dict:
    from assistant.ingest import read_file

    results = [read_file(Path(str(p)), max_bytes).to_json() for p in batch["path"]]
    return {"seq": np.asarray(batch["seq"]), "result": np.asarray(results, dtype=object)}


def read_files(files: Iterable[Path], max_bytes: int) -> list[FileResult]:
    """`ingest.load_documents(read_files=...)`: every file read and cleaned by Ray tasks; the
    results in the files' order."""
    import ray.data

    names = [str(p) for p in files]
    if not names:
        return []
    blocks = max(1, math.ceil(len(names) / FILES_PER_TASK))
    ds = ray.data.from_items([{"seq": i, "path": p} for i, p in enumerate(names)], override_num_blocks=blocks)
    ds = ds.map_batches(_read_batch, fn_kwargs={"max_bytes": max_bytes}, batch_size=FILES_PER_TASK, num_cpus=1)
    try:
        rows = ds.take_all()
    except AssistantError:
        raise
    except Exception as e:  # noqa: BLE001 - Ray wraps what a task raised
        raise _worker_failure(e) from None
    rows.sort(key=lambda r: int(r["seq"]))
    if [int(r["seq"]) for r in rows] != list(range(len(names))):
        raise ConfigError("the Ray tasks returned an incomplete set of files; run the indexing again")
    return [FileResult.from_json(str(r["result"])) for r in rows]


# -- 2. chunking and embedding -------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _ChunkingConfig:
    embedder: str
    batch_size: int
    chunk_tokens: int
    overlap_tokens: int
    embed_titles: bool

    @classmethod
    def of(cls, settings: Settings) -> _ChunkingConfig:
        return cls(settings.embedder, settings.embed_batch_size, settings.chunk_tokens,
                   settings.chunk_overlap_tokens, settings.embed_titles)

    def settings(self) -> Settings:
        values: dict[str, Any] = {"embedder": self.embedder, "embed_batch_size": self.batch_size, "chunk_tokens": self.chunk_tokens,
                                  "chunk_overlap_tokens": self.overlap_tokens, "embed_titles": self.embed_titles}
        return Settings(**values)


class _EmbeddingActor:
    """One per CPU slot: loads the model once, then chunks and embeds batches of documents and
    writes each batch as a shard. Configured by a subclass's attributes (`_actor_class`), not by
    constructor arguments, which Ray would keep in its object store for restarts."""

    config: dict = {}
    shard_dir = ""
    threads = 1

    def __init__(self):
        import torch

        from assistant.embedders import load_embedder

        torch.set_num_threads(max(1, self.threads))
        self.settings = _ChunkingConfig(**self.config).settings()
        self.folder = Path(self.shard_dir)
        self.embedder = load_embedder(self.settings.embedder, self.settings.embed_batch_size, for_indexing=True)

    def __call__(self, batch: dict) -> dict:
        from assistant.store import chunk_and_embed_here

        documents = [Document(**json.loads(str(data))) for data in batch["doc"]]
        seq = {d.id: int(n) for n, d in zip(batch["seq"], documents)}
        chunks, vectors = chunk_and_embed_here(documents, self.settings, self.embedder, show_progress=False)
        name = f"shard-{uuid.uuid4().hex}"
        _write_shard(self.folder, name, [(seq[c.doc_id], c) for c in chunks], vectors)
        return {"shard": np.asarray([name], dtype=object), "documents": np.asarray([len(documents)]),
                "chunks": np.asarray([len(chunks)])}


def _write_shard(folder: Path, name: str, rows: list[tuple[int, Chunk]], vectors: np.ndarray) -> None:
    """`<name>.npy` and `<name>.jsonl`, written under temporary names and renamed: a shard that
    exists is whole."""
    tmp_npy, tmp_jsonl = folder / f".{name}.npy", folder / f".{name}.jsonl"
    np.save(tmp_npy, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    with open(tmp_jsonl, "w", encoding="utf-8") as f:
        for seq, chunk in rows:
            f.write(json.dumps({"seq": seq, **dataclasses.asdict(chunk)}, ensure_ascii=False) + "\n")
    os.replace(tmp_npy, folder / f"{name}.npy")
    os.replace(tmp_jsonl, folder / f"{name}.jsonl")


def _read_shard(folder: Path, name: str) -> tuple[list[tuple[int, Chunk]], np.ndarray]:
    vectors = np.load(folder / f"{name}.npy", allow_pickle=False)
    rows = []
    for line in (folder / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        rows.append((int(record.pop("seq")), Chunk(**record)))
    if vectors.ndim != 2 or len(vectors) != len(rows):
        raise ConfigError(f"the Ray shard {name} is damaged; run the indexing again")
    return rows, vectors


class ChunkAndEmbedOnRay:
    """`store.build_index(chunk_and_embed=...)`: the new and changed documents chunked and embedded
    by a pool of Ray actors, merged back in document order."""

    def __init__(self, settings: Settings, cpus: int, *, docs_per_batch: int | None = None):
        self.settings = settings
        self.actors = max(1, cpus)
        self.docs_per_batch = docs_per_batch

    def __call__(self, documents: list[Document], progress: Callable[[str], None] | None = None
                 ) -> tuple[list[Chunk], np.ndarray]:
        import ray.data

        from assistant.embedding_run import ProgressBar
        from assistant.store import SHARDS_PREFIX

        index_dir = Path(self.settings.index_dir)
        shard_dir = index_dir / f"{SHARDS_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Small batches spread a small corpus over every actor; 32 articles (~1,800 passages) at most.
        per_batch = self.docs_per_batch or max(1, min(32, math.ceil(len(documents) / (4 * self.actors))))
        batches = math.ceil(len(documents) / per_batch)
        if progress:
            progress(f"chunking and embedding {len(documents)} documents on Ray: {self.actors} embedding actors, "
                     f"{batches} batches of {per_batch}")
        try:
            shard_dir.mkdir(parents=True)
            items = [{"seq": i, "doc": json.dumps(dataclasses.asdict(d), ensure_ascii=False)}
                     for i, d in enumerate(documents)]
            ds = ray.data.from_items(items, override_num_blocks=batches)
            actor = type("EmbeddingActor", (_EmbeddingActor,), {
                "config": dataclasses.asdict(_ChunkingConfig.of(self.settings)),
                "shard_dir": str(shard_dir.resolve()), "threads": 1})
            ds = ds.map_batches(actor, batch_size=per_batch, num_cpus=1,
                                compute=ray.data.ActorPoolStrategy(size=min(self.actors, batches)))
            bar = ProgressBar(len(documents), label="ray", unit="documents") if len(documents) > 1 else None
            shards: list[str] = []
            done = 0
            try:
                for row in ds.iter_rows():
                    shards.append(str(row["shard"]))
                    done += int(row["documents"])
                    if bar:
                        bar.advance(int(row["documents"]))
            except AssistantError:
                raise
            except Exception as e:  # noqa: BLE001 - Ray wraps what an actor raised
                raise _worker_failure(e) from None
            finally:
                if bar:
                    bar.close()
            if done != len(documents):
                raise ConfigError(f"the Ray actors returned {done} of {len(documents)} documents; run the indexing again")
            return _merge(shard_dir, shards)
        finally:
            shutil.rmtree(shard_dir, ignore_errors=True)


def _merge(shard_dir: Path, shards: list[str]) -> tuple[list[Chunk], np.ndarray]:
    """The shards' chunks in document order (each document's chunks in their own order), with
    their vectors: what chunking and embedding in this process gives."""
    rows: list[tuple[int, int, Chunk]] = []
    parts: list[np.ndarray] = []
    offset = 0
    for name in shards:
        shard_rows, vectors = _read_shard(shard_dir, name)
        rows.extend((seq, offset + i, chunk) for i, (seq, chunk) in enumerate(shard_rows))
        parts.append(vectors)
        offset += len(shard_rows)
    rows.sort(key=lambda r: (r[0], r[1]))  # by document; a document's chunks stay in one shard, in order
    if not rows:
        dim = parts[0].shape[1] if parts else 0
        return [], np.zeros((0, dim), np.float32)
    matrix = np.concatenate(parts)
    return [chunk for _, _, chunk in rows], np.ascontiguousarray(matrix[[i for _, i, _ in rows]], dtype=np.float32)
