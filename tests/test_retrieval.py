import numpy as np
import pytest

from assistant.retrieval import Filters, Retriever, mmr, rrf_fuse

SEVEN_METALS_Q = "Which rare earth metals did China stop exporting in April 2025?"


def test_rrf_fuse_by_hand():
    fused = dict(rrf_fuse([[1, 2, 3], [3, 1]], weights=[1.0, 2.0], k=10))
    assert fused[1] == pytest.approx(1 / 11 + 2 / 12)
    assert fused[3] == pytest.approx(1 / 13 + 2 / 11)
    assert fused[2] == pytest.approx(1 / 12)
    assert [i for i, _ in rrf_fuse([[1, 2, 3], [3, 1]], [1.0, 2.0], 10)] == [3, 1, 2]


def test_mmr_skips_near_duplicates():
    a = np.array([1.0, 0.0]); dup = np.array([0.999, 0.0447]); b = np.array([0.0, 1.0])
    vectors = np.stack([a, dup, b]).astype(np.float32)
    assert mmr([10, 11, 12], [1.0, 0.99, 0.8], vectors, k=2, lam=0.5) == [10, 12]
    assert mmr([10, 11, 12], [1.0, 0.99, 0.8], vectors, k=2, lam=1.0) == [10, 11]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hybrid", "bm25"])
def test_the_seven_metals_passage_ranks_high(settings, mode):
    from assistant.pipeline import Assistant

    s = settings.model_copy(update={"retrieval": mode})
    hits = Assistant(s).retriever.search(SEVEN_METALS_Q, k=5)
    assert any("dysprosium, gadolinium, lutetium" in h.chunk.text for h in hits[:3])


@pytest.mark.slow
def test_filters_by_date_and_source(settings):
    from assistant.pipeline import Assistant

    retriever: Retriever = Assistant(settings).retriever
    hits = retriever.search("rare earth export licences", k=5, filters=Filters(since="2025-06-08"))
    assert hits and {h.chunk.doc_id for h in hits} == {"002_9a7edff1c49901df"}  # the only article dated after June 8
    hits = retriever.search("rare earth export licences", k=5, filters=Filters(sources=("004_",)))
    assert hits and {h.chunk.doc_id for h in hits} == {"004_b02549b81277afe4"}
    assert retriever.search("rare earths", filters=Filters(until="2000-01-01")) == []


@pytest.mark.slow
def test_sentence_window_widens_context(settings):
    from assistant.pipeline import Assistant

    s = settings.model_copy(update={"window_sentences": 1})
    hit = Assistant(s).retriever.search(SEVEN_METALS_Q, k=1)[0]
    assert hit.context_start <= hit.chunk.start and hit.context_end >= hit.chunk.end
    assert len(hit.shown_text) > len(hit.chunk.text)


def test_filters_parse_dates_and_reject_nonsense():
    from assistant.errors import ConfigError

    f = Filters.parse("June 8, 2025", "2025-06-30", ["reuters"])
    assert (f.since, f.until, f.sources) == ("2025-06-08", "2025-06-30", ("reuters",))
    assert not Filters.parse(None, None, None)
    with pytest.raises(ConfigError, match="--since"):
        Filters.parse("last tuesday", None, None)


def test_per_document_quota_makes_room_for_a_second_article():
    vectors = np.eye(4, dtype=np.float32)
    picked = mmr([0, 1, 2, 3], [1.0, 0.9, 0.8, 0.1], vectors, k=3, lam=1.0, groups=["a", "a", "a", "b"], per_group=2)
    assert picked == [0, 1, 3]
    assert mmr([0, 1], [1.0, 0.9], vectors[:2], k=2, lam=1.0, groups=["a", "a"], per_group=1) == [0, 1]


def test_a_candidate_already_inside_a_shown_passage_is_not_shown_again():
    vectors = np.eye(3, dtype=np.float32)
    inside = {(1, 0)}  # candidate 1's text lies in the passage shown for candidate 0
    picked = mmr([0, 1, 2], [1.0, 0.9, 0.1], vectors, k=2, lam=1.0, redundant=lambda i, j: (i, j) in inside)
    assert picked == [0, 2]


@pytest.mark.slow
def test_neighbouring_chunks_are_not_shown_twice(settings):
    from assistant.pipeline import Assistant

    hits = Assistant(settings.model_copy(update={"window_sentences": 2})).retriever.search(SEVEN_METALS_Q, k=8)
    for a in hits:
        for b in hits:
            if a is not b and a.chunk.doc_id == b.chunk.doc_id:
                inside = b.context_start <= a.chunk.start and a.chunk.end <= b.context_end
                assert not inside or a.rank < b.rank


def test_recency_by_hand_lifts_the_article_near_the_day_asked():
    import datetime as dt

    from assistant.retrieval import recency

    fused = [(1, 1 / 61), (2, 1 / 62), (3, 1 / 63)]
    dates = ["2025-01-01", "2025-06-10", ""]
    lifted = recency(fused, dates, dt.date(2025, 6, 10), half_life_days=7, weight=2.0, rrf_k=60)
    assert [r for r, _ in lifted] == [2, 1, 3]  # same day: two first places more; undated: nothing
    assert dict(lifted)[2] == pytest.approx(1 / 62 + 2 / 61)
    assert dict(lifted)[1] == pytest.approx(1 / 61 + 2 / 61 * 2 ** (-160 / 7))
    assert dict(lifted)[3] == 1 / 63
    archive = recency(fused, ["2020-01-01", "2020-01-02", "2020-01-03"], dt.date(2026, 1, 1), 7, 2.0, 60)
    assert [r for r, _ in archive] == [1, 2, 3]  # all far older than the day asked: the order stands


@pytest.mark.slow
def test_recency_is_neutral_for_an_old_collection_and_follows_as_of(settings):
    """Asked today, the June 2025 articles rank as with the prior off; asked as of the one article
    dated June 11, its passages gain places."""
    from assistant.pipeline import Assistant

    on, off = Assistant(settings).retriever, Assistant(settings.model_copy(update={"recency_weight": 0.0})).retriever
    question = "What happened to rare earth export licences?"
    for q in (question, SEVEN_METALS_Q, "Who led the US delegation in London?"):
        assert [h.chunk.id for h in on.search(q, k=10)] == [h.chunk.id for h in off.search(q, k=10)]
    newest = max(on.index.documents.values(), key=lambda d: d.date)
    def share(hits):
        return sum(h.chunk.doc_id == newest.id for h in hits)
    before = share(off.search(question, k=10))
    after = share(on.search(question, k=10, filters=Filters(as_of=newest.date)))
    assert after > before


def test_filters_parse_as_of_and_it_filters_nothing():
    from assistant.errors import ConfigError

    f = Filters.parse(None, None, None, "June 10, 2025")
    assert f.as_of == "2025-06-10" and not f  # a day to rank against, not a filter
    with pytest.raises(ConfigError, match="--as-of"):
        Filters.parse(None, None, None, "someday")


def test_rm3_mixes_the_query_with_the_likeliest_terms_of_the_top_chunks():
    from assistant.lexical import rm3_terms, tokenize

    feedback = [("Gallium and germanium exports were curbed by Beijing.", 2.0), ("Gallium prices rose.", 1.0)]
    terms = dict(rm3_terms("gallium exports", feedback, n_terms=3, original_weight=0.5))
    assert sum(terms.values()) == pytest.approx(1.0)
    gallium, exports = tokenize("gallium exports")
    assert terms[gallium] > terms[exports] == 0.25  # gallium is likeliest in the feedback; exports is not in its best 3
    assert len(terms) == 4  # the two query terms and the feedback's three best, gallium among them
    only_query = dict(rm3_terms("gallium exports", feedback, 3, 1.0))
    assert only_query[gallium] == only_query[exports] == 0.5 and sum(only_query.values()) == 1.0


def test_weighted_bm25_with_unit_weights_is_bm25(settings):
    from assistant.lexical import tokenize
    from assistant.store import load_index

    index = load_index(settings)
    q = "seven rare earth metals"
    assert index.bm25.weighted_scores([(t, 1.0) for t in tokenize(q)]).tolist() == index.bm25.scores(q).tolist()
    doubled = index.bm25.weighted_scores([(t, 2.0) for t in tokenize(q)])
    assert np.allclose(doubled, 2 * index.bm25.scores(q))
