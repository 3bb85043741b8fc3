import pytest

from assistant.llms.scripted import ScriptedLLM
from assistant.pipeline import Assistant
from assistant.prompts import REFUSAL

pytestmark = pytest.mark.slow
SEVEN = ["dysprosium", "gadolinium", "lutetium", "samarium", "scandium", "terbium", "yttrium"]
Q = "Which rare earth metals did China stop exporting in April 2025?"


def test_extractive_answers_the_seven_metals_with_a_checkable_quote(settings):
    assistant = Assistant(settings)
    answer = assistant.ask(Q)
    assert not answer.refused and answer.llm == "extractive"
    assert all(m in answer.answer.lower() for m in SEVEN)
    cited = answer.citations[0]
    assert cited.doc_id == "000_48c4cad9349ce6bf"
    assert assistant.index.documents[cited.doc_id].text[cited.start:cited.end] == cited.quote
    assert set(answer.timings_ms) >= {"retrieval", "generation", "total"}
    assert answer.settings_fingerprint == settings.fingerprint()


def test_scripted_model_citations_are_resolved_and_unshown_ones_dropped(settings):
    llm = ScriptedLLM(["China halted exports of seven metals, including dysprosium [1]. Also [9]."])
    answer = Assistant(settings, llm=llm).ask(Q)
    assert answer.dropped_citations == (9,)
    assert [c.n for c in answer.citations] == [1] and "[9]" not in answer.answer
    prompt = llm.requests[0].messages[-1]["content"]
    assert "[1]" in prompt and Q in prompt and "dysprosium" in prompt


def test_refusal_is_flagged_and_carries_no_citations(settings):
    answer = Assistant(settings, llm=ScriptedLLM([REFUSAL])).ask("What was the price of dysprosium in May 2025?")
    assert answer.refused and answer.citations == ()


def test_unmatched_question_is_refused_before_the_model(settings):
    llm = ScriptedLLM(["The Bills won 31-10 [1]."])
    answer = Assistant(settings, llm=llm).ask("Who won the Super Bowl halftime show award for best dancer?")
    assert answer.refused and llm.requests == []


def test_context_budget_drops_lowest_ranked_passages(settings):
    llm = ScriptedLLM(lambda request: "China halted seven metals [1].", context_window=700)
    answer = Assistant(settings.model_copy(update={"max_tokens": 100}), llm=llm).ask(Q, k=8)
    assert answer.omitted_passages and len(answer.hits) + len(answer.omitted_passages) == 8
    assert answer.hits[0].rank == 1


def test_follow_up_is_rewritten_by_the_model_or_prefixed(settings):
    llm = ScriptedLLM(["What share of rare earth refining does Japan control?", "Japan is not covered [1]."])
    assistant = Assistant(settings, llm=llm)
    history = [("What share of rare earth refining does China control?", "About 90% [1].")]
    assert assistant.standalone_question("and what about Japan?", history) == "What share of rare earth refining does Japan control?"
    extractive = Assistant(settings)
    assert extractive.standalone_question("and what about Japan?", history) == \
        "What share of rare earth refining does China control? and what about Japan?"
    assert extractive.standalone_question("Who is Wu Xinbo?", history) == "Who is Wu Xinbo?"


def test_an_answer_lacking_what_was_asked_is_withheld_and_refused(settings):
    llm = ScriptedLLM(["Japan helped Lynas expand its mining and processing [1]. Japan helped Lynas expand its mining and processing [2]."])
    answer = Assistant(settings, llm=llm).ask("How much did Japan invest in Lynas after the 2010 rare earth ban?")
    assert llm.requests, "the question is on topic: the model is asked"
    assert answer.refused and answer.citations == () and answer.answer == REFUSAL
    assert answer.withheld.startswith("(no quantity") and answer.withheld.count("Japan helped") == 1
    assert answer.to_json()["withheld"] == answer.withheld


def test_prompt_sentences_show_the_model_only_the_best_sentences(settings):
    llm = ScriptedLLM(lambda request: "China halted seven metals, including dysprosium [1].")
    whole = Assistant(settings, llm=llm).ask(Q)
    compact = Assistant(settings.model_copy(update={"prompt_sentences": 3}), llm=llm).ask(Q)
    full_prompt, short_prompt = (r.messages[-1]["content"] for r in llm.requests)
    assert "dysprosium, gadolinium, lutetium" in short_prompt
    assert len(short_prompt) < len(full_prompt) / 2
    numbers = [int(line[1:line.index("]")]) for line in short_prompt.splitlines() if line.startswith("[")]
    assert 1 <= len(numbers) <= 3 and numbers == sorted(numbers)  # passage numbers kept for citations
    assert compact.hits == whole.hits and compact.citations[0].doc_id == "000_48c4cad9349ce6bf"


def test_a_sentence_copied_from_one_passage_but_numbered_as_another_is_cited_where_it_is(settings):
    def misnumbered(request):
        n = next(n for n, text in request.passages if "producing 62% of the world" in text)
        wrong = next(m for m, _ in request.passages if m != n)
        return (f"According to a report by the US Geological Survey published in 2023, China dominates the market "
                f"for rare earths, producing 62% of the world's total output [{wrong}].")

    answer = Assistant(settings, llm=ScriptedLLM(misnumbered)).ask("How much of the world's rare earth output comes from China?")
    (wrong, right), = answer.recited
    assert f"[{right}]" in answer.answer and f"[{wrong}]" not in answer.answer.split("Another article")[0]
    assert answer.citations[0].n == right and "62%" in answer.citations[0].quote
    assert answer.to_json()["recited"] == [[wrong, right]]
