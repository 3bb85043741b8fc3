"""Security hygiene (issue 12, item 5): no pickle is ever loaded, API keys never shown, index files
made with the user's umask."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.errors import IndexCorruptError, redact
from assistant.settings import Settings
from assistant.store import CURRENT, build_index, load_index
from assistant.types import Document

from robustness.helpers import REPO, HashEmbedder, article, one_line_error

runner = CliRunner()
KEY = "sk-test-9f8e7d6c5b4a39281706abcdEFGH"


class Payload:
    """Unpickling this creates a file: proof that a pickle was loaded."""

    marker = ""

    def __reduce__(self):
        return (Path(self.marker).write_text, ("pwned",))


def _rehash(gen: Path) -> None:
    """Make the manifest agree with what was planted, as an attacker with write access would."""
    manifest = json.loads((gen / "manifest.json").read_text())
    for rel in manifest["files"]:
        f = gen / rel
        manifest["files"][rel] = hashlib.sha256(f.read_bytes()).hexdigest()
        manifest["sizes"][rel] = f.stat().st_size
    (gen / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("target", ["bm25/data.csc.index.npy", "bm25/indptr.csc.index.npy", "vectors.faiss"])
def test_a_planted_pickle_is_refused_and_never_run(tmp_path, target):
    settings = Settings(index_dir=tmp_path / "index")
    build_index([Document(id=f"d{i}", text=article(i)) for i in range(3)], settings, HashEmbedder())
    gen = settings.index_dir / (settings.index_dir / CURRENT).read_text().strip()
    marker = tmp_path / "pwned"
    Payload.marker = str(marker)
    evil = np.empty(1, dtype=object)
    evil[0] = Payload()
    with open(gen / target, "wb") as f:
        np.save(f, evil, allow_pickle=True)  # an .npy holding a pickle
    _rehash(gen)
    with pytest.raises(IndexCorruptError, match="rebuild"):
        load_index(settings)
    assert not marker.exists(), "a pickle in the index was loaded"


def test_no_code_path_can_load_a_pickle():
    """Loaders that unpickle are not used anywhere in the package (the test above covers bm25s)."""
    pattern = re.compile(r"\bpickle\.loads?\b|allow_pickle\s*=\s*True|torch\.load\b|joblib|\bshelve\b|marshal\.load"
                         r"|dill\b|cloudpickle|weights_only\s*=\s*False|np\.load\((?![^)]*allow_pickle=False)")
    hits = [f"{p.relative_to(REPO)}:{i}" for p in (REPO / "assistant").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, hits


@pytest.mark.parametrize("umask", [0o027, 0o002])
def test_index_files_follow_the_users_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        settings = Settings(index_dir=tmp_path / "index")
        build_index([Document(id="d", text=article(1))], settings, HashEmbedder())
    finally:
        os.umask(old)
    paths = [p for p in settings.index_dir.rglob("*")]
    assert len(paths) > 5
    for p in paths:
        mode = p.stat().st_mode & 0o777
        expected = (0o777 if p.is_dir() else 0o666) & ~umask
        assert mode == expected, f"{p.relative_to(tmp_path)}: {oct(mode)}, umask {oct(umask)} gives {oct(expected)}"


def test_redact_masks_keys_from_the_environment_settings_and_urls(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "plain-secret-value-123")
    text = redact("key plain-secret-value-123, header Bearer abcdefghijkl, sk-abcdefghijklmnopqrstuvwx, "
                  "https://user:hunter2@example.com/v1")
    for secret in ("plain-secret-value-123", "abcdefghijkl", "sk-abcdefghijklmnopqrstuvwx", "hunter2"):
        assert secret not in text, text
    assert "…" in text and "example.com/v1" in text


@pytest.fixture()
def echoing_server():
    """An OpenAI-compatible server that refuses the key and quotes it back, as OpenAI's does."""
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}", "code": "bad_key"}})
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/v1"
    server.shutdown()


@pytest.mark.slow
def test_api_keys_are_masked_in_info_and_in_error_messages(built_index, tmp_path, echoing_server, monkeypatch):
    index_dir = tmp_path / "index"
    shutil.copytree(built_index, index_dir)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    info = runner.invoke(app, ["info", "--index", str(index_dir)])
    assert info.exit_code == 0 and KEY not in info.output and "sk-…EFGH" in info.output
    models = runner.invoke(app, ["models"])
    assert models.exit_code == 0 and KEY not in models.output
    result = runner.invoke(app, ["ask", "Which rare earth metals did China stop exporting?", "--llm", "openai",
                                 "--openai-base-url", echoing_server, "--index", str(index_dir)])
    line = one_line_error(result, "Incorrect API key provided")
    assert KEY not in result.output and KEY[-20:] not in line and "sk-…EFGH" in line
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("ASSISTANT_OPENAI_API_KEY", KEY)  # the key from the settings instead
    result = runner.invoke(app, ["ask", "Which rare earth metals did China stop exporting?", "--llm", "openai",
                                 "--openai-base-url", echoing_server, "--index", str(index_dir)])
    assert KEY not in result.output and "Incorrect API key" in result.stderr
