"""`assistant watch`: new files indexed within seconds, removed ones dropped at the next pass, one
line per update, bad files said once, feeds polled through the cache, Ctrl-C between commits, and
a running `chat` answering from what the watcher committed."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time

import pytest

from assistant.settings import Settings
from assistant.store import load_index
from assistant.watch import Watcher, WatchOptions

from conftest import ARTICLES
from documents import paragraphs
from feed_server import Entry, Site, page_html, serve
from robustness.helpers import PYTHON, REPO, HashEmbedder, article


def start(watcher: Watcher) -> tuple[threading.Thread, queue.Queue]:
    lines: queue.Queue[tuple[float, str]] = queue.Queue()
    watcher.say = lambda line: lines.put((time.monotonic(), line))
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    return thread, lines


def next_line(lines: queue.Queue, timeout: float = 60) -> tuple[float, str]:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no line within {timeout} s") from None


def test_new_changed_and_removed_files_each_give_one_line(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "harbour.txt").write_text(article(1, "the harbour"))
    settings = Settings(index_dir=tmp_path / "index")
    watcher = Watcher([folder], settings, WatchOptions(poll_s=0.2), embedder=HashEmbedder())
    thread, lines = start(watcher)
    try:
        assert "1 added (harbour)" in next_line(lines)[1]
        written = time.monotonic()
        (folder / "bridge.txt").write_text(article(2, "the new bridge"))
        seen, line = next_line(lines)
        assert "1 added (bridge)" in line and "2 documents" in line
        assert seen - written < 5.0, seen - written  # picked up within 5 s
        (folder / "bridge.txt").write_text(article(3, "the old bridge"))
        assert "1 changed (bridge)" in next_line(lines)[1]
        (folder / "harbour.txt").unlink()
        assert "1 removed (harbour)" in next_line(lines)[1]
        (folder / "broken.txt").write_bytes(b"\xff\xfe not utf-8 \x00\x01")
        assert "broken.txt" in next_line(lines)[1]  # said once ...
        (folder / "tower.txt").write_text(article(4, "the clock tower"))
        assert "1 added (tower)" in next_line(lines)[1]  # ... not again at this pass
        assert set(load_index(settings).documents) == {"bridge", "tower"}
    finally:
        watcher.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive() and lines.empty()


def test_feeds_are_fetched_every_so_often_and_file_passes_reuse_them(tmp_path):
    site = Site(entries=[Entry("talks", "Talks in London", "Tue, 10 Jun 2025 09:30:00 GMT", "Officials met.")])
    body = paragraphs(1)
    site.pages = {"/articles/talks.html": page_html("Talks in London", body)}
    folder = tmp_path / "news"
    folder.mkdir()
    with serve(site):
        settings = Settings(index_dir=tmp_path / "index")
        watcher = Watcher([folder, f"{site.url}/feed.xml"], settings, WatchOptions(poll_s=0.2, feed_every_s=2.0),
                          embedder=HashEmbedder())
        thread, lines = start(watcher)
        try:
            assert "1 added (talks-" in next_line(lines)[1]
            fetched = len(site.log)
            (folder / "harbour.txt").write_text(article(1))
            assert "1 added (harbour)" in next_line(lines)[1]
            assert len(site.log) == fetched  # a file's pass does not ask the site again
            site.entries.append(Entry("ports", "Ports reopen", "Thu, 12 Jun 2025 06:00:00 GMT", "Ports reopen."))
            site.pages["/articles/ports.html"] = page_html("Ports reopen", body[::-1])
            assert "1 added (ports-" in next_line(lines, timeout=30)[1]  # at the next fetch of the feed
        finally:
            watcher.stop.set()
            thread.join(timeout=30)


@pytest.mark.slow
def test_chat_answers_from_what_watch_committed_and_ctrl_c_stops_cleanly(built_index, tmp_path):
    """Real processes: `assistant watch` (the real embedder) and `assistant chat` on the same index."""
    index_dir = tmp_path / "index"
    shutil.copytree(built_index, index_dir)
    corpus = tmp_path / "corpus"
    shutil.copytree(ARTICLES, corpus)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "CI": "1", "COLUMNS": "400",
           "PYTHONPATH": str(REPO)}
    watch = subprocess.Popen([PYTHON, "-m", "assistant", "watch", str(corpus), "--index", str(index_dir), "--poll", "0.5"],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    chat = subprocess.Popen([PYTHON, "-m", "assistant", "chat", "--index", str(index_dir), "--llm", "extractive"],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, env=env)
    watched: queue.Queue[str] = queue.Queue()
    chatted: queue.Queue[str] = queue.Queue()
    readers = [threading.Thread(target=lambda s=stream, q=sink: [q.put(t) for t in iter(s.readline, "")], daemon=True)
               for stream, sink in ((watch.stdout, watched), (chat.stdout, chatted))]
    for reader in readers:
        reader.start()

    def ask(line: str) -> str:
        chat.stdin.write(line + "\n")
        chat.stdin.flush()
        seen = []
        while not any("answered by" in t or "error:" in t for t in seen):
            seen.append(chatted.get(timeout=180))
        return "".join(seen)

    try:
        assert "watching" in watched.get(timeout=60)
        assert "5 documents" in watched.get(timeout=120)  # the first pass: up to date
        assert "yttrium" in ask("Which rare earth metals did China stop exporting in April 2025?")
        (corpus / "lighthouse.txt").write_text(article(7, "the new lighthouse"))
        line = watched.get(timeout=120)
        assert "1 added (lighthouse)" in line, line
        after = ask("When is a decision on the new lighthouse in town 7 expected?")
        assert "index reloaded: 6 articles" in after and "lighthouse" in after
        watch.send_signal(signal.SIGINT)
        assert watch.wait(timeout=60) == 0
        readers[0].join(timeout=10)
        rest = "".join(watched.get() for _ in range(watched.qsize()))
        assert "stopped after" in rest and "Traceback" not in rest
    finally:
        for process in (watch, chat):
            if process.poll() is None:
                process.kill()
            process.wait()
    index = load_index(Settings(index_dir=index_dir))
    assert "lighthouse" in index.documents and len(index.documents) == 6
