from assistant.answer import values
from assistant.answer.disagreements import differing_sentences, first_line, note
from assistant.llms.scripted import ScriptedLLM
from assistant.pipeline import Assistant
from assistant.sentences import Sentence
from tests.test_citations import hit


def keys(found):
    return sorted(v.low for v in found)


def test_shares_are_read_however_they_are_written():
    assert keys(values.shares("over 80% of refining, 90 per cent of mining, 60-70 percent of magnets")) == [
        60.0, 80.0, 90.0]
    nearly = values.shares("nearly 90 per cent")[0]
    assert nearly.same(values.shares("90%")[0]) and not nearly.same(values.shares("80%")[0])
    ranged = values.shares("between 60-70%")[0]
    assert ranged.same(values.shares("65 percent")[0]) and not ranged.same(values.shares("75%")[0])


def test_money_and_counts_compare_as_numbers():
    a, b = values.amounts("$1.5 billion"), values.amounts("1,500 million dollars")
    assert a[0].same(b[0]) and not a[0].same(values.amounts("$2 billion")[0])
    assert not a[0].same(values.amounts("1.5 billion yuan")[0])  # another currency
    seven, digits = values.counts("seven rare earth metals"), values.counts("7 metals")
    assert seven[0].low == digits[0].low == 7.0


def test_dates_with_or_without_the_year_or_as_a_weekday_are_one_date():
    (long_form,), (day_first,) = values.dates("June 10, 2025"), values.dates("10 June 2025")
    assert long_form.same(day_first)
    (no_year,) = values.dates("on June 10", reference="2025-06-12")
    assert no_year.same(long_form)
    # 7 June 2025 was a Saturday: "Saturday" in an article of that day is that day; "Monday" the 9th.
    (saturday,) = values.dates("talks on Saturday", reference="2025-06-07")
    assert saturday.low == (2025, 6, 7)
    (monday,) = values.dates("talks begin on Monday", reference="2025-06-07")
    assert monday.same(values.dates("9 June 2025")[0]) and not monday.same(long_form)
    assert values.dates("on Monday") == []  # no article date: not guessed


def test_values_that_share_a_token_are_not_taken_as_equal():
    assert values.differ(values.dates("June 9, 2025"), values.dates("on June 10, 2025"))  # both say "June"
    assert values.differ(values.shares("62% of output"), values.shares("62.8% of output"))
    assert not values.differ(values.shares("62% of output"), values.shares("about 62 per cent"))
    assert not values.differ(values.shares("62%"), values.dates("June 2025"))  # another kind: nothing to compare
    assert not values.differ(values.counts("it lasted 90 minutes"), values.counts("the two leaders"))  # counts of other things
    assert values.differ(values.counts("seven states"), values.counts("more than 30 states"))
    assert values.counts("six centuries")[0].unit == "century"


HITS = [
    hit(1, "China dominates the market, producing 62% of the world's total output.", "usgs"),
    hit(2, "China dominates the global supply chain, mining about 70% of rare earths.", "other"),
    hit(3, "China dominates the global supply chain, mining about 62 per cent of rare earths.", "same"),
    hit(4, "Unemployment in Ohio fell to 4% last year, the state reported.", "ohio"),
]
QUESTION = "How much of the world's rare earth mining output comes from China?"
ANSWER = "China produces 62% of the world's total output [1]."


def ranked(*order, scores=(0.8, 0.78, 0.76, 0.75)):
    return lambda: [Sentence(score, n, n, HITS[n - 1].chunk.text, 0, 0) for score, n in zip(scores, order)]


def test_another_articles_different_figure_is_found(minilm_similarity):
    found = differing_sentences(QUESTION, ANSWER, HITS, ranked(1, 2, 3, 4), minilm_similarity)
    assert [s.n for s in found] == [2]  # not [3] (the same figure written otherwise), not [4] (another subject)
    assert note(found, QUESTION, HITS) == (
        f"Another article (Title other) gives a different figure: “{HITS[1].chunk.text}” [2]")


def test_the_first_line_names_the_other_articles_value_with_its_source(minilm_similarity):
    found = differing_sentences(QUESTION, ANSWER, HITS, ranked(1, 2, 3, 4), minilm_similarity)
    assert first_line("62% [1].", found, QUESTION, ANSWER, HITS) == "62% [1]. Another article: about 70%. [2]"
    assert first_line("62% [1].", [], QUESTION, ANSWER, HITS) == "62% [1]."
    twice = [hit(1, "It was founded in 1992.", "a"), hit(2, "It closed in 2024.", "b"), hit(3, "In 2024 it closed.", "c")]
    both = [Sentence(0.8, n, n, twice[n - 1].chunk.text, 0, 0) for n in (2, 3)]
    assert first_line("1992. [1]", both, "When was it founded?", "1992. [1]", twice) == (
        "1992. [1] Other articles: in 2024. [2, 3]")  # one value, said once
    since = [hit(1, "An export ban was imposed in December 2024.", "a"),
             hit(2, "Since 2023, it has also imposed export curbs on gallium.", "b")]
    other = [Sentence(0.8, 2, 2, since[1].chunk.text, 0, 0)]
    assert first_line("December 2024. [1]", other, "When did China restrict gallium exports?",
                      "December 2024. [1]", since) == "December 2024. [1] Another article: since 2023. [2]"


def test_nothing_is_added_when_the_sources_agree_or_the_other_is_far_less_relevant(minilm_similarity):
    assert differing_sentences(QUESTION, ANSWER, HITS, ranked(1, 3), minilm_similarity) == []
    assert differing_sentences(QUESTION, ANSWER, HITS, ranked(1, 3, 2, scores=(0.8, 0.78, 0.6)), minilm_similarity) == []
    cites_both = "China produces 62% [1]; another says 70% [2]."
    assert differing_sentences(QUESTION, cites_both, HITS, ranked(1, 2), minilm_similarity) == []


def test_only_questions_asking_for_a_figure_or_a_date_are_checked(minilm_similarity):
    def never():
        raise AssertionError("no ranking needed")

    assert differing_sentences("Who dominates rare earth mining?", ANSWER, HITS, never, minilm_similarity) == []
    assert differing_sentences(QUESTION, "China dominates mining [1].", HITS, never, minilm_similarity) == []


def test_the_answer_says_when_the_bundled_articles_disagree(settings):
    """One source's figure from the model; the article giving another figure is quoted and cited."""
    def one_source(request):
        n = next(n for n, text in request.passages if "62%" in text)
        return f"China produces 62% of the world's total output [{n}]."

    answer = Assistant(settings, llm=ScriptedLLM(one_source)).ask(QUESTION)
    assert "gives a different figure" in answer.answer and "70%" in answer.answer
    docs = [c.doc_id for c in answer.citations]
    assert docs[0] == "001_5b13dbd250ddda8c" and "002_9a7edff1c49901df" in docs
