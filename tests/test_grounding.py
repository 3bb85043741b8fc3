import pytest

from assistant.grounding import drop_invented, drop_repeats, is_refusal, misses_what_was_asked, says_not_found
from assistant.prompts import REFUSAL
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
    answer = "Ford's plant in Dearborn, Michigan halted production [1]. It blamed Beijing's slow licences [1]."
    kept, removed = drop_invented(answer, hits, question)
    assert removed == ["Ford's plant in Dearborn, Michigan halted production [1]."]
    assert kept == "It blamed Beijing's slow licences [1]."
    assert drop_invented("It cites Title d and Passage 1 [1].", hits) == ("It cites Title d and Passage 1 [1].", [])


def test_figures_match_however_the_passage_writes_them():
    hits = [hit(1, "Several days earlier, on 06 June 2025, Trump revealed it. Output reached 1,200 tonnes.")]
    answer = "On June 6, 2025, Trump announced it [1]. Output was 1200 tonnes [1]."
    assert drop_invented(answer, hits) == (answer, [])
