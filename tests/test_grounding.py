import pytest

from assistant.answer.grounding import (
    check, drop_invented, drop_repeats, is_refusal, misses_what_was_asked, says_not_found, share_phrases, shares_at,
)
from assistant.prompts import REFUSAL
from assistant.types import Chunk, Hit
from tests.test_citations import TEXT, hit


def test_repeated_sentences_and_the_echoed_question_are_removed():
    question = "Which countries did China warn?"
    answer = "Which countries did China warn? [1] China warned South Korea [1]. China warned South Korea [2]. It also warned Japan [3]."
    kept = drop_repeats(answer, question)
    assert "warn?" not in kept and kept.count("South Korea") == 1 and kept.endswith("It also warned Japan [3].")


def test_an_answer_without_repeats_is_unchanged():
    answer = "China mines about 70% [1]. It refines 90% [2]."
    assert drop_repeats(answer, "How much?") == answer


@pytest.mark.parametrize(
    ("question", "answer", "lacking"),
    [
        ("How much did Japan invest in Lynas after 2010?", "Japan invested alongside Tokyo to help Lynas [1].", "quantity"),
        ("How much funding has the DOE committed?", "A 2024 report by the Department of Energy says efforts are in progress [1].", "quantity"),
        ("Exactly how many applications were approved?", "The ministry approved a certain number of applications [1].", "quantity"),
        ("When will the negotiators meet again?", "The negotiators agreed to keep talking [2].", "date"),
        ("What is the name of the largest mine in the United States?", "The largest mine in the United States is [1].", "name"),
        ("Who headed the Chinese delegation?", "The delegation was headed by [1] [2].", "name"),
    ],
)
def test_answers_lacking_what_the_question_asks_for_are_caught(question, answer, lacking):
    assert misses_what_was_asked(answer, question) == lacking


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("How much of the world's output comes from China?", "China mines about 70% of the world's rare earths [1]."),
        ("How long did the call last?", "The call lasted ninety minutes [2]."),
        ("How much does the US produce?", "The United States produces virtually none of them [1]."),
        ("When did China restrict exports?", "China restricted exports in April 2025 [1]."),
        ("When did the talks open?", "They opened on Monday [3]."),
        ("When did China start to dominate rare earths?", "It rose to dominance in the 1990s [3]."),
        ("Who headed the Chinese delegation?", "Vice Premier He Lifeng led it [1]."),
        ("Why did China restrict exports?", "Because of the tariffs [1]."),
        ("Who received the licences: the carmakers or their suppliers?", "Their suppliers received them [1]."),
        ("What happened in 2010, why, and for how long?", "China halted exports to Japan over a dispute [1]."),
    ],
)
def test_answers_holding_what_was_asked_pass(question, answer):
    assert misses_what_was_asked(answer, question) == ""


def test_refusals():
    assert is_refusal(REFUSAL) and is_refusal("") and not is_refusal("China mines 70% [1].")
    assert says_not_found("The passages do not mention the price.")
    assert not says_not_found("China mines 70% of rare earths [1].")


def test_invented_figures_are_removed():
    hits = [hit(1, TEXT)]
    kept, removed = drop_invented("China mines about 70% [1]. The price was $10,000 per tonne [1].", hits)
    assert kept == "China mines about 70% [1]." and removed == ["The price was $10,000 per tonne [1]."]
    assert drop_invented("China mines 70% [1].", hits) == ("China mines 70% [1].", [])


def test_invented_names_are_removed_but_names_from_the_passages_or_question_stay():
    hits = [hit(1, "Ford halted production at a plant because of the shortage. Beijing's licences were slow.")]
    question = "Which Ford plant halted production?"
    answer = "Ford's plant in Dearborn, Michigan halted production [1]. Ford blamed Beijing's slow licences [1]."
    kept, removed = drop_invented(answer, hits, question)
    assert removed == ["Ford's plant in Dearborn, Michigan halted production [1]."]
    assert kept == "Ford blamed Beijing's slow licences [1]."
    assert drop_invented("It cites Title d and Passage 1 [1].", hits) == ("It cites Title d and Passage 1 [1].", [])


def test_a_sentence_going_on_from_a_removed_one_goes_with_it():
    hits = [hit(1, "Exports were curbed in April. Ford halted production at a plant.")]
    answer = "Ford's plant in Dearborn halted production [1]. This occurred in April [1]. Exports were curbed in April [1]."
    kept, removed = drop_invented(answer, hits, "Which Ford plant halted production?")
    assert removed == ["Ford's plant in Dearborn halted production [1].", "This occurred in April [1]."]
    assert kept == "Exports were curbed in April [1]."
    checked = check("[1] Ford's plant in Dearborn halted production. This occurred in April.", hits, "Which Ford plant?")
    assert checked.text == "" and len(checked.removed) == 2  # the marker left alone is no answer
    # The same sentence after a kept one stays.
    answer = "Ford halted production [1]. This occurred in April [1]."
    assert drop_invented(answer, hits, "When did Ford halt production?") == (answer, [])


def test_copied_passage_headings_are_not_taken_for_answers():
    hits = [Hit(chunk=Chunk(id="d#1", doc_id="d", start=0, end=30, text="China refines 90% of them."), score=1.0, rank=1,
                title="China’s Rare Earth Strategy", date="2025-06-07")]
    answer = "[1] China's Rare Earth Strategy — 2025-06-07\nAnalysts say China holds a grip on the supply."
    checked = check(answer, hits, "What share of magnet manufacturing is in China?")
    assert "2025" not in checked.withheld and checked.withheld.startswith("(no quantity")
    assert not checked.text


def test_figures_match_however_the_passage_writes_them():
    hits = [hit(1, "Several days earlier, on 06 June 2025, Trump revealed it. Output reached 1,200 tonnes.")]
    answer = "On June 6, 2025, Trump announced it [1]. Output was 1200 tonnes [1]."
    assert drop_invented(answer, hits) == (answer, [])


def test_share_phrases_reads_what_is_asked_and_what_is_stated():
    asked, stated = share_phrases("What percentage of the world's rare earth reserves lie in China?",
                           "China controls nearly 90% of the world's processing capacity, and 62% of output [1].")
    assert asked == "the world's rare earth reserves lie" and stated == ["the world's processing capacity", "output"]
    assert share_phrases("How long did the call last?", "It lasted 90 minutes.") == ("", [])


@pytest.mark.parametrize(
    ("question", "answer", "lacking"),
    [
        ("What percentage of the world's rare earth reserves lie in China?",
         "China dominates the market, controlling nearly 90% of the world's processing capacity [1].", True),
        ("What share of global rare earth magnet manufacturing takes place in China?",
         "China controls nearly 90% of the world's processing capacity [3].", True),
        ("What share of affected companies fear their inventory will run out?",
         "75% of affected businesses say their inventory could run dry [1].", False),
        ("What fraction of global critical mineral production is under Beijing's control?",
         "Beijing controls 70% of the world's critical minerals output [1].", False),
        ("What proportion of America's rare earth imports came from China?",
         "China accounted for 70% of US rare earth imports between 2020 and 2023 [1].", False),
    ],
)
def test_a_share_of_something_else_than_was_asked_does_not_answer(minilm_similarity, question, answer, lacking):
    assert bool(misses_what_was_asked(answer, question, minilm_similarity)) == lacking
    assert misses_what_was_asked(answer, question) == ""  # without a similarity the check is off


def test_a_bare_share_is_read_as_its_sentence_states_it(minilm_similarity):
    sentence = "China dominates the global rare earth market, controlling nearly 90% of the world’s processing capacity."
    at = sentence.index("nearly 90%")
    shares = shares_at(sentence, at, at + len("nearly 90%"))
    assert shares == ["the world’s processing capacity"]
    assert shares_at(sentence, 0, at) == []  # the span stops before the figure
    reserves = "What percentage of the world's rare earth reserves lie in China?"
    assert misses_what_was_asked("nearly 90% [1].", reserves, minilm_similarity) == ""  # the first line alone
    assert misses_what_was_asked("nearly 90% [1].", reserves, minilm_similarity, shares=shares)
    capacity = "What share of the world's rare earth processing capacity does China hold?"
    assert misses_what_was_asked("nearly 90% [1].", capacity, minilm_similarity, shares=shares) == ""


@pytest.mark.parametrize("answer", ["A decision is expected before the end of the month [1].",
                                    "Talks resume within two weeks [1].", "It lasted for three months [2]."])
def test_relative_dates_answer_when(answer):
    assert misses_what_was_asked(answer, "When is a decision expected?") == ""
