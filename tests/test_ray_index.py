"""`assistant index --ray`: the same index as a plain `assistant index`, built on a real local Ray
runtime (127.0.0.1, started by the run), first in full and then incrementally."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import ARTICLES

QUERIES = ["Which country controls most rare earth processing?", "export restrictions on gallium and germanium"]


def _corpus(folder: Path, n: int) -> Path:
    folder.mkdir()
    for path in sorted(ARTICLES.glob("*.txt"))[:n]:
        shutil.copy(path, folder / path.name)
    return folder


def _assert_same_index(single_dir: Path, ray_dir: Path) -> None:
    from assistant.embedders import load_embedder
    from assistant.retrieval import Retriever
    from assistant.settings import Settings
    from assistant.store import load_index

    one, other = Settings(index_dir=single_dir), Settings(index_dir=ray_dir)
    a, b = load_index(one), load_index(other)
    assert [(c.id, c.doc_id, c.start, c.end, c.text) for c in a.chunks] == \
        [(c.id, c.doc_id, c.start, c.end, c.text) for c in b.chunks]
    assert a.documents == b.documents
    for key in ("format_version", "config", "fingerprint", "embedder", "dim", "documents", "n_chunks", "sources"):
        assert a.manifest[key] == b.manifest[key], key
    assert set(a.manifest["files"]) == set(b.manifest["files"])
    va, vb = a.vector_matrix(), b.vector_matrix()
    assert va.shape == vb.shape
    # Batches differ (per actor vs one longest-first list), so the floats may differ in the last bits.
    assert float((va * vb).sum(axis=1).min()) >= 0.9999
    embedder = load_embedder(one.embedder)
    for query in QUERIES:
        assert np.allclose(a.bm25.scores(query), b.bm25.scores(query), rtol=0, atol=1e-6)
        hits_a = Retriever(a, embedder, one).search(query)
        hits_b = Retriever(b, embedder, other).search(query)
        assert [h.chunk.id for h in hits_a] == [h.chunk.id for h in hits_b]


@pytest.mark.slow
def test_ray_index_equals_single_process_index_full_and_incremental(tmp_path):
    pytest.importorskip("ray.data")
    from assistant.indexing import index_paths
    from assistant.settings import Settings

    corpus = _corpus(tmp_path / "corpus", 3)
    single, on_ray = tmp_path / "single", tmp_path / "ray"
    index_paths([corpus], Settings(index_dir=single))

    # The command as a user runs it: a local runtime on 127.0.0.1 that ends with the command.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    run = subprocess.run([sys.executable, "-m", "assistant", "index", str(corpus), "--index", str(on_ray), "--ray", "local"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "3 added" in " ".join(run.stdout.split()), run.stdout
    assert "Traceback" not in run.stderr
    assert not list(on_ray.glob(".tmp-shards-*"))  # the shards were merged and removed
    _assert_same_index(single, on_ray)

    # Incremental: one article changed, one removed, one new; the unchanged one is not sent to Ray.
    first, second, third = sorted(corpus.glob("*.txt"))
    text = first.read_text()
    paragraph = max(text.splitlines(), key=len)  # a body paragraph: the cleaner keeps it
    first.write_text(text.replace(paragraph, paragraph + " The ministry said on Tuesday that new licences would follow."))
    third.unlink()
    new = sorted(ARTICLES.glob("*.txt"))[3]
    shutil.copy(new, corpus / new.name)
    report_single = index_paths([corpus], Settings(index_dir=single))
    report_ray = index_paths([corpus], Settings(index_dir=on_ray), ray="local")
    for report in (report_single, report_ray):
        assert (len(report.added), len(report.changed), len(report.removed), report.unchanged) == (1, 1, 1, 1)
    assert report_ray.embedded_chunks == report_single.embedded_chunks
    assert report_ray.embedded_chunks < report_ray.chunks
    _assert_same_index(single, on_ray)


def test_ray_missing_is_one_line_with_the_install_command(tmp_path, monkeypatch):
    from assistant.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    result = CliRunner().invoke(app, ["index", str(ARTICLES), "--index", str(tmp_path / "index"), "--ray", "local"])
    assert result.exit_code == 1
    output = result.output.strip()
    assert "pip install '.[ray]'" in output
    assert len(output.splitlines()) == 1, output
    assert "Traceback" not in output
    assert not (tmp_path / "index" / "CURRENT").exists()
