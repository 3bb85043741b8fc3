"""Faults (issue 12, item 2): SIGKILL at random moments of a build, a full disk, a read-only
index folder. (A server that is down, slow, sends garbage or fails mid-stream: tests/test_openai_server.py.)"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.settings import Settings
from assistant.store import CURRENT, load_index

from conftest import ARTICLES
from robustness.helpers import PYTHON, REPO, article, one_line_error, remount_read_only, tmpfs

runner = CliRunner()
Q = "Which rare earth metals did China stop exporting in April 2025?"

# A real `index --rebuild` (the real ingest, chunking, BM25 and store code) with the cheap embedder,
# over enough articles that writing takes a while: the moments to kill it at are all inside the build.
BUILD = """
import sys
sys.path.insert(0, "tests")
from robustness.helpers import HashEmbedder
import assistant.indexing
assistant.indexing.load_embedder = lambda *a, **k: HashEmbedder()
from assistant.cli import app
sys.argv = ["assistant", "index", sys.argv[1], "--rebuild", "--index", sys.argv[2]]
print("started", flush=True)
app()
"""


def _corpus(folder, n: int, tag: str) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"{i:04d}.txt").write_text(article(i, f"the {tag} project") * 3)


def test_sigkill_at_random_moments_of_a_rebuild_always_leaves_a_loadable_index(tmp_path):
    index_dir = tmp_path / "index"
    settings = Settings(index_dir=index_dir)
    first, second = tmp_path / "first", tmp_path / "second"
    _corpus(first, 1500, "first")
    _corpus(second, 1600, "second")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def run(corpus):
        return subprocess.Popen([PYTHON, "-c", BUILD, str(corpus), str(index_dir)], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    started = time.monotonic()
    whole = run(first)
    whole.communicate(timeout=300)
    assert whole.returncode == 0
    duration = time.monotonic() - started
    assert len(load_index(settings).documents) == 1500
    rng = random.Random(12)
    seen = set()
    for moment in sorted(rng.uniform(0.3, 1.0) * duration for _ in range(8)):
        process = run(second if len(seen) % 2 == 0 else first)
        assert process.stdout.readline().strip() == "started"
        time.sleep(moment * 0.8)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        index = load_index(settings)  # the old or the new index, whole
        n = len(index.documents)
        assert n in (1500, 1600) and index.vectors.ntotal == len(index.chunks) == index.manifest["n_chunks"]
        assert set(index.manifest["documents"]) == set(index.documents)
        seen.add(n)
    finished = run(second)
    finished.communicate(timeout=300)
    assert finished.returncode == 0
    assert len(load_index(settings).documents) == 1600
    leftovers = [p.name for p in index_dir.iterdir() if p.name.startswith((".tmp-", f".{CURRENT}."))]
    assert not leftovers, leftovers
    assert len([p for p in index_dir.iterdir() if p.name.startswith("gen-")]) <= 2


@pytest.mark.slow
def test_a_full_disk_gives_one_line_and_the_old_index_survives(built_index, tmp_path):
    with tmpfs(tmp_path / "small", "4m") as disk:
        index_dir = disk / "index"
        shutil.copytree(built_index, index_dir)
        before = sorted(p.name for p in index_dir.iterdir())
        free = shutil.disk_usage(disk).free
        with open(disk / "filler", "wb") as f:  # leave less room than a new generation needs
            f.write(b"\0" * max(0, free - 64 * 1024))
        extra = tmp_path / "extra"
        extra.mkdir()
        (extra / "lighthouse.txt").write_text(article(7, "the new lighthouse"))
        result = runner.invoke(app, ["index", str(ARTICLES), str(extra), "--index", str(index_dir)])
        one_line_error(result, "no space left", "the previous index is kept")
        assert sorted(p.name for p in index_dir.iterdir()) == before, "a partial generation was left behind"
        ok = runner.invoke(app, ["ask", Q, "--json", "--llm", "extractive", "--index", str(index_dir)])
        assert ok.exit_code == 0 and "yttrium" in json.loads(ok.stdout)["answer"]
        (disk / "filler").unlink()
        again = runner.invoke(app, ["index", str(ARTICLES), str(extra), "--index", str(index_dir)])
        assert again.exit_code == 0 and "1 added" in " ".join(again.stdout.split()), again.output


@pytest.mark.slow
def test_a_read_only_index_folder_is_still_queried_and_writes_fail_in_one_line(built_index, tmp_path):
    with tmpfs(tmp_path / "ro", "64m") as disk:
        index_dir = disk / "index"
        shutil.copytree(built_index, index_dir)
        remount_read_only(disk)
        ok = runner.invoke(app, ["ask", Q, "--json", "--llm", "extractive", "--index", str(index_dir)])
        assert ok.exit_code == 0, ok.output
        assert "yttrium" in json.loads(ok.stdout)["answer"]
        info = runner.invoke(app, ["info", "--index", str(index_dir)])
        assert info.exit_code == 0 and "all-MiniLM-L6-v2" in info.stdout
        verify = runner.invoke(app, ["index", "--verify", "--index", str(index_dir)])
        assert verify.exit_code == 0 and "intact" in verify.stdout
        one_line_error(runner.invoke(app, ["index", str(ARTICLES), "--index", str(index_dir)]), "read-only")
        chat = runner.invoke(app, ["chat", "--index", str(index_dir), "--llm", "extractive"], input=f"{Q}\n/quit\n")
        assert chat.exit_code == 0 and "yttrium" in chat.stdout


@pytest.mark.slow
def test_verify_finds_a_same_size_alteration_the_load_check_lets_through(built_index, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(built_index, index_dir)
    gen = index_dir / (index_dir / CURRENT).read_text().strip()
    chunks = gen / "chunks.jsonl"
    data = chunks.read_bytes()
    i = data.index(b"yttrium")
    chunks.write_bytes(data[:i] + b"Yttrium" + data[i + 7:])  # same size: only the sha256 tells
    assert runner.invoke(app, ["ask", Q, "--json", "--index", str(index_dir)]).exit_code == 0
    one_line_error(runner.invoke(app, ["index", "--verify", "--index", str(index_dir)]), "chunks.jsonl", "rebuild")
    chunks.write_bytes(data[:-10])
    one_line_error(runner.invoke(app, ["ask", Q, "--index", str(index_dir)]), "chunks.jsonl", "rebuild")


# `assistant watch` with the cheap embedder: passes over a folder that grows while it is killed.
WATCH = """
import sys
sys.path.insert(0, "tests")
from robustness.helpers import HashEmbedder
import assistant.embedders
assistant.embedders.load_embedder = lambda *a, **k: HashEmbedder()
from assistant.cli import app
sys.argv = ["assistant", "watch", sys.argv[1], "--index", sys.argv[2], "--poll", "0.2"]
app()
"""


def test_sigkill_of_watch_at_random_moments_of_its_passes_loses_nothing(tmp_path):
    """The kill test above, for `assistant watch`: files keep arriving, the watcher is killed at
    random moments of its passes (mid-commit among them), the index is always one whole
    generation, and a restarted watcher catches up with every file."""
    index_dir = tmp_path / "index"
    settings = Settings(index_dir=index_dir)
    corpus = tmp_path / "corpus"
    _corpus(corpus, 300, "harbour")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "400"}

    def start():
        process = subprocess.Popen([PYTHON, "-c", WATCH, str(corpus), str(index_dir)], cwd=REPO, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert "watching" in process.stdout.readline()
        return process

    def until_indexed(process, n: int) -> float:
        started = time.monotonic()
        for line in process.stdout:
            if f"; {n} documents" in line:
                return time.monotonic() - started
            assert "Traceback" not in line, line
        raise AssertionError(f"the watcher stopped before indexing {n} documents")

    watcher = start()
    duration = until_indexed(watcher, 300)  # the first pass: every file
    watcher.send_signal(signal.SIGKILL)
    watcher.wait()
    rng = random.Random(29)
    total = 300
    for batch in range(4):
        watcher = start()
        until_indexed(watcher, total)  # the restarted watcher has caught up
        for i in range(30):
            (corpus / f"new-{batch}-{i:02d}.txt").write_text(article(10_000 + batch * 100 + i, f"the pier {batch}") * 3)
        total += 30
        time.sleep(0.4 + rng.uniform(0.1, 1.0) * duration)  # two polls to settle, then into the pass
        watcher.send_signal(signal.SIGKILL)
        watcher.wait()
        index = load_index(settings)  # the generation before the pass, or after it: whole
        n = len(index.documents)
        assert n in (total - 30, total) and index.vectors.ntotal == len(index.chunks) == index.manifest["n_chunks"]
        assert set(index.manifest["documents"]) == set(index.documents)
    watcher = start()
    until_indexed(watcher, total)
    watcher.send_signal(signal.SIGINT)
    assert watcher.wait(timeout=60) == 0
    assert len(load_index(settings).documents) == total
    assert not [p.name for p in index_dir.iterdir() if p.name.startswith((".tmp-", f".{CURRENT}."))]
