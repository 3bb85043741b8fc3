"""Two writers at once, readers during commits, a chat session during a rebuild (issue 12, item 1)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time

import pytest

from assistant.errors import IndexLockedError
from assistant.settings import Settings
from assistant.store import CURRENT, LOCK, build_index, current_generation_name, load_index, writer_lock
from assistant.types import Document

from conftest import ARTICLES
from robustness.helpers import PYTHON, REPO, HashEmbedder, article, run_cli

HOLD_LOCK = """
import sys, time
from assistant.store import writer_lock
with writer_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def _hold_lock_in_another_process(index_dir):
    process = subprocess.Popen([PYTHON, "-c", HOLD_LOCK, str(index_dir)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_writer_waits_or_fails_naming_the_holder_and_a_killed_holder_frees_the_lock(tmp_path):
    index_dir = tmp_path / "index"
    holder = _hold_lock_in_another_process(index_dir)
    try:
        assert (index_dir / LOCK).read_text().strip() == str(holder.pid)
        notes = []
        started = time.monotonic()
        with pytest.raises(IndexLockedError, match=f"pid {holder.pid}"):
            with writer_lock(index_dir, wait_s=0.5, notify=notes.append):
                pass
        assert time.monotonic() - started >= 0.5
        assert len(notes) == 1 and f"waiting for another indexing run (pid {holder.pid})" in notes[0]
    finally:
        holder.send_signal(signal.SIGKILL)  # a stale lock: its holder died without unlocking
        holder.communicate()
    started = time.monotonic()
    with writer_lock(index_dir, wait_s=10):
        assert (index_dir / LOCK).read_text().strip() == str(os.getpid())
    assert time.monotonic() - started < 2


@pytest.mark.slow
def test_two_index_runs_at_once_are_serialised_and_neither_change_is_lost(built_index, tmp_path):
    """The issue's case: one run adds an article, one rebuilds; both start while a third holds the
    lock, so both are waiting when it is released. Both succeed, one after the other, and the
    added article is in the index that stays."""
    index_dir = tmp_path / "index"
    shutil.copytree(built_index, index_dir)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "lighthouse.txt").write_text(article(7, "the new lighthouse"))

    holder = _hold_lock_in_another_process(index_dir)
    logs = {name: open(tmp_path / f"{name}.err", "w+") for name in ("add", "rebuild")}
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    add = subprocess.Popen([PYTHON, "-m", "assistant", "index", str(ARTICLES), str(extra), "--index", str(index_dir)],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=logs["add"], text=True, env=env)
    rebuild = subprocess.Popen([PYTHON, "-m", "assistant", "index", "--rebuild", "--index", str(index_dir)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=logs["rebuild"], text=True, env=env)
    deadline = time.monotonic() + 180
    while not all("waiting for another indexing run" in (tmp_path / f"{n}.err").read_text() for n in logs):
        assert add.poll() is None and rebuild.poll() is None, "a writer went ahead while the index was locked"
        assert time.monotonic() < deadline, "the writers never reached the lock"
        time.sleep(0.2)
    holder.send_signal(signal.SIGKILL)  # both are waiting: they now race for the lock
    holder.communicate()
    add_out = add.communicate(timeout=300)[0]
    rebuild.communicate(timeout=300)
    for log in logs.values():
        log.close()
    add_err, rebuild_err = ((tmp_path / f"{n}.err").read_text() for n in ("add", "rebuild"))
    assert add.returncode == 0, add_err
    assert rebuild.returncode == 0, rebuild_err
    assert "Indexed 6 documents" in add_out
    index = load_index(Settings(index_dir=index_dir))
    assert "lighthouse" in index.documents, "the added article was lost"
    assert len(index.documents) == 6 and index.vectors.ntotal == len(index.chunks)


@pytest.mark.slow
def test_with_no_wait_exactly_one_of_two_writers_succeeds_and_the_other_says_why(built_index, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(built_index, index_dir)
    holder = _hold_lock_in_another_process(index_dir)
    try:
        result = run_cli("index", "--no-wait", "--index", str(index_dir))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error:") and f"pid {holder.pid}" in lines[-1], result.stderr
    assert all(not line.startswith("error:") for line in lines[:-1])


def _docs(n: int, tag: str) -> list[Document]:
    return [Document(id=f"{tag}-{i}", text=article(i, f"{tag} matters"), title=f"{tag} {i}") for i in range(n)]


def test_readers_always_see_one_whole_generation_while_writers_commit(tmp_path):
    """Builds commit over and over while a reader loads the index in a loop: every load is one
    consistent generation (its manifest, documents and vectors agree), never an error."""
    settings = Settings(index_dir=tmp_path / "index")
    embedder = HashEmbedder()
    build_index(_docs(3, "first"), settings, embedder)
    stop = threading.Event()
    loads, errors = [], []

    def reader():
        while not stop.is_set():
            try:
                index = load_index(settings)
            except Exception as e:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(repr(e))
                continue
            loads.append((set(index.manifest["documents"]) == set(index.documents),
                          index.vectors.ntotal == len(index.chunks) == index.manifest["n_chunks"],
                          len({d.split("-")[0] for d in index.documents}) == 1))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(25):
            build_index(_docs(2 + i % 4, f"gen{i}"), settings, embedder)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[:3]
    assert len(loads) >= 10 and all(all(checks) for checks in loads)
    generations = [p.name for p in settings.index_dir.iterdir() if p.name.startswith("gen-")]
    assert current_generation_name(settings.index_dir) in generations and len(generations) <= 2


def test_a_build_never_removes_the_generation_another_build_just_committed(tmp_path):
    """Writers in threads (separate lock descriptors, as separate processes): every commit is
    the base of the next, so the last index holds the union of what each added."""
    settings = Settings(index_dir=tmp_path / "index")
    embedder = HashEmbedder()
    build_index(_docs(1, "base"), settings, embedder)
    failures = []

    def add(tag):
        try:
            with writer_lock(settings.index_dir):
                current = load_index(settings)
                build_index([*current.documents.values(), *_docs(1, tag)], settings, embedder)
        except Exception as e:  # noqa: BLE001
            failures.append(repr(e))

    threads = [threading.Thread(target=add, args=(f"t{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert set(load_index(settings).documents) == {"base-0", *(f"t{i}-0" for i in range(6))}


@pytest.mark.slow
def test_a_chat_session_keeps_answering_during_a_rebuild_and_picks_up_the_new_index(built_index, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(built_index, index_dir)
    chat = subprocess.Popen(
        [PYTHON, "-m", "assistant", "chat", "--index", str(index_dir), "--llm", "extractive"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "CI": "1", "COLUMNS": "400"},
    )

    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(t) for t in iter(chat.stdout.readline, "")], daemon=True)
    reader.start()

    def ask(line: str) -> str:
        chat.stdin.write(line + "\n")
        chat.stdin.flush()
        seen: list[str] = []
        while True:
            try:
                text = lines.get(timeout=120)
            except queue.Empty:
                raise AssertionError(f"no answer to {line!r}; the chat printed: {''.join(seen)!r}") from None
            seen.append(text)
            if any(end in text for end in ("answered by", "The index is unchanged", "error:")):
                return "".join(seen)

    try:
        first = ask("Which rare earth metals did China stop exporting in April 2025?")
        assert "yttrium" in first
        corpus = tmp_path / "corpus"
        shutil.copytree(ARTICLES, corpus)
        (corpus / "lighthouse.txt").write_text(article(7, "the new lighthouse"))
        from assistant.indexing import index_paths

        rebuilt: list = []
        rebuild = threading.Thread(target=lambda: rebuilt.append(
            index_paths([corpus], Settings(index_dir=index_dir), rebuild=True)))
        rebuild.start()
        during = ask("Which rare earth metals did China stop exporting in April 2025?")  # while it rebuilds
        assert "yttrium" in during
        rebuild.join(timeout=300)
        assert rebuilt and rebuilt[0].documents == 6
        after = ask("When is a decision on the new lighthouse in town 7 expected?")
        assert "index reloaded: 6 articles" in after and "lighthouse" in after
        assert "The index is unchanged." in ask("/reload")
    finally:
        chat.stdin.close()
        chat.wait(timeout=60)
        reader.join(timeout=10)
        chat.stdout.close()
    assert (index_dir / CURRENT).read_text().strip() == load_index(Settings(index_dir=index_dir)).path.name
