"""Which sentences a model is shown (`sentences.best`)."""

from assistant.sentences import Sentence, best

# (score, position, passage number): the third passage's sentence scores best on its own.
RANKED = sorted([Sentence(0.62, 0, 1, "The first passage's sentence about the talks.", 0, 10),
                 Sentence(0.60, 1, 2, "The second passage's sentence about the talks.", 0, 10),
                 Sentence(0.65, 2, 3, "The third passage's sentence about the talks.", 0, 10),
                 Sentence(0.65, 3, 3, "The third passage's sentence about the talks.", 20, 30)],
                key=lambda x: (-x.score, x.position))


def test_best_takes_distinct_sentences_by_score_in_reading_order():
    shown = best(RANKED, 2)
    assert [x.n for x in shown] == [1, 3]  # the repeated sentence counts once; reading order kept
    assert [x.score for x in shown] == [0.62, 0.65]


def test_passage_prior_favours_sentences_of_higher_ranked_passages():
    # 0.62 + 0.1/1 = 0.72 and 0.65 + 0.1/3 = 0.683 against 0.60 + 0.1/2 = 0.65: still the first and third
    shown = best(RANKED, 2, passage_prior=0.1)
    assert [x.n for x in shown] == [1, 3]
    # 0.92, then 0.75 for the second and 0.75 for the third: the tie goes to reading order
    shown = best(RANKED, 2, passage_prior=0.3)
    assert [x.n for x in shown] == [1, 2]
    assert [x.score for x in shown] == [0.62, 0.60]  # scores themselves are unchanged


def test_shown_takes_prompt_sentences_and_twelve_when_that_is_nought():
    from assistant.sentences import shown
    from assistant.settings import Settings

    many = [Sentence(1.0 - i / 100, i, 1, f"Distinct sentence number {i} about the talks.", 0, 10) for i in range(20)]
    assert len(shown(many, Settings(prompt_sentences=3))) == 3
    assert len(shown(many, Settings(prompt_sentences=0))) == 12  # the evidence-first strategy always shows sentences
    assert shown(RANKED, Settings(prompt_sentences=2, sentence_passage_prior=0.3)) == best(RANKED, 2, 0.3)


def test_the_eval_scores_exactly_the_sentences_the_select_strategy_shows(settings):
    """One choice of shown sentences: what `select` numbers in its prompt is what the eval records."""
    import re

    from assistant.evaluation.runner import QuestionRunner
    from assistant.llms.scripted import ScriptedLLM
    from assistant.pipeline import Assistant

    question = "Which carmakers got temporary licences to import rare earths?"
    settings = settings.model_copy(update={"strategy": "select"})
    llm = ScriptedLLM(['{"evidence": [1], "answer": "Some carmakers."}'])
    answer = Assistant(settings, llm=llm).ask(question)
    prompt = "\n".join(m["content"] for m in llm.requests[0].messages)
    numbered = re.findall(r"^\((\d+)\) (.+)$", prompt, re.MULTILINE)
    recorded = QuestionRunner(settings, retrieval_only=True).shown_sentences(question, list(answer.hits))
    assert [int(i) for i, _ in numbered] == list(range(1, len(recorded) + 1)) and len(recorded) == 12
    assert [text for _, text in numbered] == [x["text"] for x in recorded]
