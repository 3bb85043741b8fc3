import pytest
from hypothesis import given, settings as hsettings, strategies as st

from assistant.chunking import chunk_document, sentence_spans
from assistant.types import Document


def word_count(texts):
    return [len(t.split()) for t in texts]


def test_sentences_respect_abbreviations_and_quotes():
    text = 'U.S. President Donald Trump said "yes." Then Dr. Smith left. The E.U. agreed!\n\nNew paragraph.'
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        'U.S. President Donald Trump said "yes."', "Then Dr. Smith left.", "The E.U. agreed!", "New paragraph.",
    ]


def test_chunks_keep_exact_offsets_budget_and_overlap():
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    doc = Document(id="d", text=text)
    chunks = chunk_document(doc, word_count, max_tokens=30, overlap_tokens=8)
    assert len(chunks) > 5
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert len(c.text.split()) <= 30
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end, "consecutive chunks overlap"
        assert b.start > a.start, "chunking moves forward"
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_a_sentence_over_budget_is_cut_between_words():
    text = "word " * 100 + "end."
    chunks = chunk_document(Document(id="d", text=text.strip()), word_count, max_tokens=25, overlap_tokens=0)
    assert len(chunks) >= 4 and all(len(c.text.split()) <= 25 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=80),
                min_size=1, max_size=30))
def test_any_text_chunks_cover_every_word_with_true_offsets(parts):
    text = ". ".join(parts)
    chunks = chunk_document(Document(id="d", text=text), word_count, max_tokens=12, overlap_tokens=4)
    covered = set()
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert len(c.text.split()) <= 12
        covered.update(range(c.start, c.end))
    for i, ch in enumerate(text):
        if not ch.isspace():
            assert i in covered


@pytest.mark.slow
def test_real_tokenizer_keeps_chunks_under_the_model_limit(built_index):
    from assistant.embedders import load_embedder
    from assistant.settings import Settings
    from assistant.store import load_index

    settings = Settings(index_dir=built_index)
    index = load_index(settings)
    counts = load_embedder(settings.embedder).count_tokens([c.text for c in index.chunks])
    assert max(counts) <= settings.chunk_tokens < 256
    for c in index.chunks:
        assert index.documents[c.doc_id].text[c.start:c.end] == c.text
