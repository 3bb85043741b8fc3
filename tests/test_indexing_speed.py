"""Indexing at the model's speed: embedding order and progress, streamed .jsonl, the e5 option."""

import io
import json

import numpy as np
import pytest

from assistant.embedding_run import ProgressBar, embed_all


class CountingEmbedder:
    """Records the batches it is given; a vector is the text's length, so rows can be checked."""

    dim = 2
    batch_size = 2

    def __init__(self):
        self.calls = []

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def embed(self, texts, progress=False):
        self.calls.append(list(texts))
        return np.array([[len(t.split()), 1.0] for t in texts], dtype=np.float32)


def test_embed_all_embeds_each_text_once_longest_first_in_input_order():
    texts = [" ".join(["w"] * n) for n in (3, 40, 1, 17, 17, 2, 9, 30, 5, 12, 8, 25, 4, 6, 7, 11, 13, 14, 15, 16, 18)]
    embedder = CountingEmbedder()
    out = embed_all(embedder, texts)
    assert out[:, 0].tolist() == [len(t.split()) for t in texts]  # rows back in input order
    sent = [t for call in embedder.calls for t in call]
    assert sorted(sent) == sorted(texts)  # every text once
    lengths = [len(t.split()) for t in sent]
    assert lengths == sorted(lengths, reverse=True)  # longest first, so batches share lengths
    assert len(embedder.calls) == 2  # slices of 8 batches of 2
    assert embed_all(embedder, []).shape == (0, 2)


def test_progress_bar_reports_rate_and_time_left():
    stream = io.StringIO()
    bar = ProgressBar(1000, stream=stream)
    for _ in range(10):
        bar.advance(100)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert 1 <= len(lines) <= 11  # not a terminal: one line per tenth, no flood
    assert "1,000/1,000 passages" in lines[-1] and "/s" in lines[-1] and "left" in lines[-1]


def test_jsonl_is_read_line_by_line_and_keeps_unicode_line_separators(tmp_path):
    from assistant.errors import UnreadableFileError
    from assistant.ingest import load_file

    path = tmp_path / "news.jsonl"
    rows = [{"id": f"a{i}", "title": f"T{i}", "text": f"Article {i} says this.\u2028It goes on. " * 5} for i in range(3)]
    path.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode())
    docs = load_file(path)
    assert [d.id for d in docs] == ["a0", "a1", "a2"] and all("goes on" in d.text for d in docs)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(json.dumps(rows[0]).encode() + b"\n" + b'{"text": "caf\xe9"}\n')
    with pytest.raises(UnreadableFileError, match=r"offset \d+"):
        load_file(bad)


@pytest.mark.slow
def test_e5_small_embeds_questions_and_passages_apart():
    from assistant.embedders import load_embedder

    e5 = load_embedder("e5-small")
    passages = ["China suspended exports of seven rare earth metals in April 2025.",
                "The football match ended in a draw after extra time."]
    p = e5.embed(passages)
    q = e5.embed_query(["Which metals did China stop exporting?"])
    assert p.shape == (2, 384) and q.shape == (1, 384)
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-3)
    scores = p @ q[0]
    assert scores[0] > scores[1] + 0.05
    assert not np.allclose(e5.embed(["same text"]), e5.embed_query(["same text"]))  # the prefixes differ
    counts = e5.count_tokens(["", "rare earth metals", passages[0]])
    assert counts[0] == 0 and 0 < counts[1] < counts[2]
