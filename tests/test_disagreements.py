import pytest

from assistant.disagreements import date_values, differing_sentences, note, share_values
from assistant.llms.scripted import ScriptedLLM
from assistant.pipeline import Assistant
from tests.test_citations import hit


def test_dates_and_shares_are_read_however_they_are_written():
    assert date_values("On 09 June 2025, the talks ended.") == {"june 9", "2025"}
    assert date_values("They began on June 9.") == {"june 9"}
    assert date_values("The talks open in London on Monday, not in April.") == {"monday", "april"}
    assert share_values("It controls over 80% of refining, 90 per cent of mining and nearly all processing.") == {"80", "90", "all"}


@pytest.fixture(scope="module")
def similarity():
    from assistant.embedders import load_embedder

    embedder = load_embedder("all-MiniLM-L6-v2")
    return lambda text, others: (embedder.embed([text, *others])[1:] @ embedder.embed([text])[0]).tolist()


HITS = [
    hit(1, "China dominates the market, producing 62% of the world's total output.", "usgs"),
    hit(2, "China dominates the global supply chain, mining about 70% of rare earths.", "other"),
    hit(3, "China dominates the global supply chain, mining about 62% of rare earths.", "same"),
    hit(4, "Unemployment in Ohio fell to 4% last year, the state reported.", "ohio"),
]
QUESTION = "How much of the world's rare earth mining output comes from China?"
ANSWER = "China produces 62% of the world's total output [1]."


def ranked(*order, scores=(0.8, 0.78, 0.76, 0.75)):
    return lambda: [(score, n, n, HITS[n - 1].chunk.text) for score, n in zip(scores, order)]


def test_another_articles_different_figure_is_found(similarity):
    found = differing_sentences(QUESTION, ANSWER, HITS, ranked(1, 2, 3, 4), similarity)
    assert found == [(2, HITS[1].chunk.text)]  # not [3] (same figure), not [4] (another subject)
    assert note(found, QUESTION) == f"Another article gives a different figure: {HITS[1].chunk.text} [2]"


def test_nothing_is_added_when_the_sources_agree_or_the_other_is_far_less_relevant(similarity):
    assert differing_sentences(QUESTION, ANSWER, HITS, ranked(1, 3), similarity) == []
    assert differing_sentences(QUESTION, ANSWER, HITS, ranked(1, 3, 2, scores=(0.8, 0.78, 0.6)), similarity) == []
    cites_both = "China produces 62% [1]; another says 70% [2]."
    assert differing_sentences(QUESTION, cites_both, HITS, ranked(1, 2), similarity) == []


def test_only_questions_asking_for_a_figure_or_a_date_are_checked(similarity):
    def never():
        raise AssertionError("no ranking needed")

    assert differing_sentences("Who dominates rare earth mining?", ANSWER, HITS, never, similarity) == []
    assert differing_sentences(QUESTION, "China dominates mining [1].", HITS, never, similarity) == []


def test_the_answer_says_when_the_bundled_articles_disagree(settings):
    """One source's figure from the model; the article giving another figure is quoted and cited."""
    def one_source(request):
        n = next(n for n, text in request.passages if "62%" in text)
        return f"China produces 62% of the world's total output [{n}]."

    answer = Assistant(settings, llm=ScriptedLLM(one_source)).ask(QUESTION)
    assert "Another article gives a different figure" in answer.answer and "70%" in answer.answer
    docs = [c.doc_id for c in answer.citations]
    assert docs[0] == "001_5b13dbd250ddda8c" and "002_9a7edff1c49901df" in docs
