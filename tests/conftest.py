import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["ASSISTANT_LLM"] = "extractive"  # tests choose real models explicitly
os.environ.pop("ASSISTANT_INDEX", None)

REPO = Path(__file__).resolve().parents[1]
ARTICLES = REPO / "articles"


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
