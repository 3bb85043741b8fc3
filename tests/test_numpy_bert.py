"""The torch-free query path: numpy MiniLM against the sentence-transformers model, BM25 scored
without bm25s, and an `ask` process that imports neither torch nor scipy."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

TEXTS = [
    "Which rare earth metals did China stop exporting in April 2025?",
    "Who is Wu Xinbo?",
    "ok",
    "Ünïcödé — «quotes», emoji 🚀, 中文字符 and numbers 3.14159 $10,000 62%.",
    "A long passage about export controls. " * 60,  # over 256 word pieces: cut as sentence-transformers cuts
    "\n".join(["Short line."] * 5),
]


@pytest.fixture(scope="module")
def both():
    """(the numpy query embedder, the reference sentence-transformers model)."""
    from assistant.embedders import load_embedder, sentence_transformer
    from assistant.numpy_bert import NumpyBertEmbedder

    fast = load_embedder("all-MiniLM-L6-v2")
    assert type(fast) is NumpyBertEmbedder
    return fast, sentence_transformer("all-MiniLM-L6-v2")


def test_numpy_and_plain_torch_vectors_match_sentence_transformers(both):
    from assistant.embedders import load_embedder
    from assistant.torch_bert import TorchBertEmbedder

    fast, reference = both
    indexing = load_embedder("all-MiniLM-L6-v2", for_indexing=True)
    assert isinstance(indexing, TorchBertEmbedder)
    texts = TEXTS + [(REPO / "articles" / "000_48c4cad9349ce6bf.txt").read_text()[:2000]]
    want = reference.embed(texts)
    for engine in (fast, indexing):
        got = engine.embed(texts)
        assert got.shape == want.shape == (len(texts), 384) and got.dtype == np.float32
        cosines = (got * want).sum(axis=1)
        assert cosines.min() >= 0.9999, (engine.engine, cosines)
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        # Batching does not change a text's vector: alone, or among texts of other lengths.
        alone = np.vstack([engine.embed([t]) for t in texts])
        assert np.abs(alone - got).max() < 1e-4
        assert engine.embed([]).shape == (0, 384)


def test_numpy_token_counts_match_the_torch_tokenizer(both):
    fast, torch_model = both
    assert fast.count_tokens(TEXTS) == torch_model.count_tokens(TEXTS)
    assert fast.count_tokens([TEXTS[4]])[0] > 256  # counts are not truncated: chunking relies on them


def test_only_bert_mean_pooling_folders_run_in_numpy(tmp_path):
    import shutil

    from assistant.embedders import model_folder
    from assistant.numpy_bert import supports

    packaged = model_folder("all-MiniLM-L6-v2")
    assert supports(packaged)
    copy = tmp_path / "model"
    shutil.copytree(packaged, copy, ignore=shutil.ignore_patterns("*.safetensors"))
    assert not supports(copy)  # no weights
    (copy / "model.safetensors").symlink_to(packaged / "model.safetensors")
    assert supports(copy)
    pooling = copy / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({**json.loads(pooling.read_text()), "pooling_mode_mean_tokens": False,
                                   "pooling_mode_cls_token": True}))
    assert not supports(copy)  # CLS pooling: left to sentence-transformers


def test_bm25_scores_without_bm25s_equal_bm25s(built_index):
    import bm25s

    from assistant.lexical import BM25Index
    from assistant.store import _current_generation

    folder = _current_generation(built_index) / "bm25"
    fast, reference = BM25Index.load(folder), BM25Index(bm25s.BM25.load(str(folder), allow_pickle=False))
    assert fast._model is None  # really the array path
    for q in ["Which rare earth metals did China stop exporting in April 2025?", "china China rare rare",
              "zzzz qqqq", "What did Kevin Hassett say about the talks in London?", ""]:
        a, b = fast.scores(q), reference.scores(q)
        assert a.dtype == np.float32 and np.array_equal(a, b), q
    assert fast.scores("rare earth").max() > 0


def test_ask_process_imports_no_torch_scipy_or_bm25s(built_index):
    code = (
        "import sys\n"
        "from assistant.cli import app\n"
        f"sys.argv = ['assistant', 'ask', 'Which rare earth metals did China stop exporting in April 2025?',"
        f" '--llm', 'extractive', '--json', '--index', {str(built_index)!r}]\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "heavy = ['torch', 'sentence_transformers', 'transformers', 'scipy', 'bm25s', 'sklearn']\n"
        "print('LOADED', [m for m in heavy if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout[: result.stdout.rindex("LOADED")])
    assert "yttrium" in answer["answer"] and answer["citations"]
    assert result.stdout.strip().endswith("LOADED []"), result.stdout[-300:]
