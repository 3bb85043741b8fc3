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
