import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["ASSISTANT_LLM"] = "extractive"  # tests choose real models explicitly
os.environ.pop("ASSISTANT_INDEX", None)

REPO = Path(__file__).resolve().parents[1]
ARTICLES = REPO / "articles"
SHARED = REPO.parent / "shared"  # data beside the repository (CI has it; a plain clone does not)


def needs_shared(relative: str) -> pytest.MarkDecorator:
    """For the few tests that read `../shared/<relative>`, data beside the repository: skipped, with
    the reason, when it is absent; under CI (CI=true), which has the data, never skipped."""
    path = SHARED / relative
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    return pytest.mark.skipif(not path.exists() and not in_ci,
                              reason=f"needs {path} (data beside the repository, not in it; CI has it)")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """No test writes to the user's cache (chat history, assembled models) unless it asks."""
    monkeypatch.setenv("ASSISTANT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def built_index(tmp_path_factory) -> Path:
    """The bundled articles indexed once with the real embedder and FAISS."""
    from assistant.indexing import index_paths
    from assistant.settings import Settings

    index_dir = tmp_path_factory.mktemp("shared") / "index"
    index_paths([ARTICLES], Settings(index_dir=index_dir))
    return index_dir


@pytest.fixture()
def settings(built_index):
    from assistant.settings import Settings

    return Settings(index_dir=built_index, llm="extractive")


# -- `assistant serve` as a real process on 127.0.0.1 (tests/test_serve.py, tests/test_web.py) ------
SERVER_KEY = "test-key-123"


@pytest.fixture(scope="session")
def minilm_similarity():
    """Cosine of a text to others under the packaged MiniLM, as `Assistant.similarity` gives it."""
    from assistant.embedders import load_embedder

    embedder = load_embedder("all-MiniLM-L6-v2")

    def similarity(text, others):
        vectors = embedder.embed([text, *others])
        return (vectors[1:] @ vectors[0]).tolist()

    return similarity


@pytest.fixture(scope="session")
def server(built_index, tmp_path_factory):
    """`assistant serve --llm extractive` on the shared index, on a free port, with a bearer key.
    Yields its base URL; its log is shown when it fails to start."""
    proc, url = start_server(built_index, tmp_path_factory.mktemp("server"))
    yield url
    stop(proc)


def start_server(index_dir: Path, folder: Path):
    """`assistant serve --llm extractive --api-key SERVER_KEY` on `index_dir`, on a free port, once it
    answers /healthz: (the process, its base URL)."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = folder / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSISTANT_CACHE": str(folder / "cache")}
    env.pop("ASSISTANT_SERVER", None)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--index", str(index_dir), "--llm", "extractive",
             "--port", str(port), "--api-key", SERVER_KEY],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            pytest.fail(f"assistant serve exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"assistant serve did not answer /healthz within 180 s:\n{log_path.read_text()}")
        time.sleep(0.3)


def stop(process) -> None:
    """A server process the test started: terminated, killed if it does not stop within 15 s."""
    import subprocess

    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
