import json
import shutil
from pathlib import Path

import pytest

from assistant.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from assistant.indexing import index_paths
from assistant.settings import Settings
from assistant.store import CURRENT, load_index

from conftest import ARTICLES

pytestmark = pytest.mark.slow


@pytest.fixture()
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(ARTICLES, folder)
    return folder


@pytest.fixture()
def copy_of_index(built_index, tmp_path):
    target = tmp_path / "index"
    shutil.copytree(built_index, target)
    return target


def current_files(index_dir: Path) -> Path:
    return index_dir / (index_dir / CURRENT).read_text().strip()


def test_reindexing_embeds_only_what_changed(corpus, tmp_path):
    s = Settings(index_dir=tmp_path / "idx")
    first = index_paths([corpus], s)
    assert first.embedded_chunks == first.chunks > 0 and len(first.added) == 5
    again = index_paths([corpus], s)
    assert again.embedded_chunks == 0 and again.unchanged == 5
    assert index_paths([], s).embedded_chunks == 0, "no paths: re-index what the index was built from"

    edited = corpus / "001_5b13dbd250ddda8c.txt"
    edited.write_text(edited.read_text().replace("In conclusion,", "A new closing sentence was added. In conclusion,"))
    (corpus / "004_b02549b81277afe4.txt").unlink()
    changed = index_paths([corpus], s)
    assert changed.changed == ["001_5b13dbd250ddda8c"] and changed.removed == ["004_b02549b81277afe4"]
    assert 0 < changed.embedded_chunks < first.embedded_chunks
    index = load_index(s)
    assert "004_b02549b81277afe4" not in index.documents
    assert index.vectors.ntotal == len(index.chunks)
    assert any("new closing sentence" in c.text for c in index.chunks)


def test_vectors_survive_incremental_update_exactly(corpus, tmp_path):
    s = Settings(index_dir=tmp_path / "idx")
    index_paths([corpus], s)
    before = load_index(s)
    (corpus / "003_5c2ec7abe9534e4e.txt").unlink()
    index_paths([corpus], s)
    after = load_index(s)
    old = {c.id: v for c, v in zip(before.chunks, before.vector_matrix())}
    for c, v in zip(after.chunks, after.vector_matrix()):
        assert (old[c.id] == v).all()


def test_missing_index(tmp_path):
    with pytest.raises(IndexMissingError, match="assistant index"):
        load_index(Settings(index_dir=tmp_path / "none"))


@pytest.mark.parametrize("name", ["vectors.faiss", "chunks.jsonl", "documents.jsonl", "manifest.json"])
def test_truncated_file_is_caught(copy_of_index, name):
    f = current_files(copy_of_index) / name
    f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    with pytest.raises(IndexCorruptError, match="rebuild"):
        load_index(Settings(index_dir=copy_of_index))


def test_other_model_or_chunking_is_refused_with_how_to_rebuild(copy_of_index):
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        load_index(Settings(index_dir=copy_of_index, chunk_tokens=96))
    manifest = current_files(copy_of_index) / "manifest.json"
    data = json.loads(manifest.read_text())
    assert data["config"]["embedder"] == "all-MiniLM-L6-v2" and data["dim"] == 384


def test_a_build_killed_midway_leaves_the_previous_index(copy_of_index, corpus, monkeypatch):
    s = Settings(index_dir=copy_of_index)
    before = load_index(s)
    (corpus / "extra.txt").write_text("An extra article about rare earth magnets and their supply chains. " * 4)

    def crash(self, folder):
        raise KeyboardInterrupt  # as if the process were killed while writing

    monkeypatch.setattr("assistant.lexical.BM25Index.save", crash)
    with pytest.raises(KeyboardInterrupt):
        index_paths([corpus], s)
    after = load_index(s)
    assert [c.id for c in after.chunks] == [c.id for c in before.chunks]
    assert not [p for p in copy_of_index.iterdir() if p.name.startswith(".tmp-")]


def test_an_index_built_with_a_model_folder_is_stale_once_the_folder_is_retrained_in_place(corpus, tmp_path):
    from assistant.embedders import model_folder

    folder = tmp_path / "my-minilm"
    shutil.copytree(model_folder("all-MiniLM-L6-v2"), folder)
    s = Settings(index_dir=tmp_path / "index", embedder=str(folder))
    index_paths([corpus], s)
    assert load_index(s).manifest["config"]["embedder_weights"]
    weights = next(p for p in folder.rglob("*") if p.suffix in (".safetensors", ".bin"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight: "retrained"
    weights.write_bytes(bytes(data))
    with pytest.raises(IndexMismatchError, match="embedder_weights.*--rebuild"):
        load_index(s)
    assert "embedder_weights" not in Settings().index_config()  # the packaged model is known by its name
