"""Evidence-first answering (select), the extractive strategy and claim support."""

import json

import pytest

from assistant.answer import strategies, support
from assistant.errors import ConfigError
from assistant.llms.scripted import ScriptedLLM
from assistant.pipeline import Assistant
from assistant.prompts import REFUSAL
from assistant.sentences import Sentence
from tests.test_citations import hit

SEVEN = ["dysprosium", "gadolinium", "lutetium", "samarium", "scandium", "terbium", "yttrium"]
Q = "Which rare earth metals did China stop exporting in April 2025?"


def steps(*pieces):
    """(chosen token, {alternative: logprob}) per step, as a backend reports them."""
    return [(chosen, alternatives) for chosen, alternatives in pieces]


def test_p_none_reads_the_mass_on_an_empty_list_where_the_list_opens():
    import math

    ln = math.log
    # '[' then a choice between ']' (0.2) and a number (0.8)
    opened = steps(('{"', {}), ("evidence", {}), ('":', {}), (" [", {" [": ln(0.9), " [],": ln(0.1)}),
                   ("3", {"3": ln(0.6), "1": ln(0.2), "]": ln(0.2)}))
    assert strategies.p_none(opened) == pytest.approx((0.1 + 0.9 * 0.2) / 1.0)
    # the empty list in one token
    closed = steps(('{"', {}), ("evidence", {}), ('":', {}), (" [],", {" [],": ln(0.7), " [": ln(0.3)}))
    assert strategies.p_none(closed) == pytest.approx(0.7)
    assert strategies.p_none(steps(('{"', {}), ("answer", {}))) is None  # no list opened
    assert strategies.p_none([]) is None  # a backend that reports no alternatives


def test_a_selection_is_parsed_leniently():
    assert strategies.parse_selection('{"evidence": [2, 9, 2, "3"], "answer": "Seven"}', 4) == ([2, 3], "Seven")
    assert strategies.parse_selection('Sure! {"evidence": [1], "answer": "x"} Hope this helps.', 3) == ([1], "x")
    assert strategies.parse_selection("not json", 3) == ([], "")
    assert strategies.parse_selection('{"evidence": "1", "answer": 5}', 3) == ([], "")


SENTENCES = [Sentence(0.9, 0, 1, "In April 2025, China suspended exports of seven rare earth metals.", 0, 10),
             Sentence(0.8, 1, 2, "Trump spoke with Xi Jinping on Thursday.", 0, 10)]


def test_the_answer_is_the_first_line_then_each_sentence_quoted_and_cited():
    text = strategies.compose("Seven metals. [1]", SENTENCES[::-1])
    assert text.splitlines() == ["Seven metals. [1]", f"“{SENTENCES[0].text}” [1]", f"“{SENTENCES[1].text}” [2]"]


def test_markers_inside_passages_are_neutralised():
    assert strategies.neutralise("As reported [1], China [2, 3] said") == "As reported (1), China (2, 3) said"


@pytest.fixture()
def select_settings(settings):
    return settings.model_copy(update={"strategy": "select"})


def verdict(p_yes: float):
    """The verification call's reply: "yes" chosen, with these probabilities of yes and no."""
    import math

    from assistant.llms.base import Completion

    return Completion('{"verdict": "yes"}', steps=(('{"', {}), ("verdict", {}), ('": "', {}),
                                                   ("yes", {"yes": math.log(p_yes), "no": math.log(1 - p_yes)})))


def test_p_yes_reads_the_verdict_step():
    assert strategies.p_yes(verdict(0.3).steps) == pytest.approx(0.3)
    assert strategies.p_yes((('{"', {}), ("verdict", {}))) is None  # no verdict given
    assert strategies.p_yes(()) is None


def test_select_answers_from_the_sentences_the_model_chose(select_settings):
    def choose(request):
        if request.schema == strategies.VERDICT_SCHEMA:  # asked again whether the sentences state it
            assert "Proposed answer: dysprosium, gadolinium and five more" in request.messages[-1]["content"]
            return verdict(0.9)
        assert request.schema["required"] == ["evidence", "answer"]
        prompt = request.messages[-1]["content"]
        number = next(line.split(")")[0].strip("(") for line in prompt.splitlines() if "yttrium" in line)
        return json.dumps({"evidence": [int(number)], "answer": "dysprosium, gadolinium and five more"})

    assert Assistant(select_settings, llm=ScriptedLLM(choose)).ask(Q).selection["p_verified"] is None  # not asked
    select_settings = select_settings.model_copy(update={"verify_answers": True})
    answer = Assistant(select_settings, llm=ScriptedLLM(choose)).ask(Q)
    assert answer.strategy == "select" and not answer.refused
    assert all(m in answer.answer for m in SEVEN)  # the list is completed from the cited sentence
    assert answer.citations[0].doc_id == "000_48c4cad9349ce6bf"
    assert answer.claims and all(c.supported and c.quote for c in answer.claims)
    assert answer.selection["p_verified"] == pytest.approx(0.9)
    assert answer.selection["signals"]["p_verified"] == pytest.approx(0.9)  # a signal of the decision
    assert answer.decision == "answer" and answer.to_json()["decision"] == "answer"


def test_select_refuses_an_empty_selection_and_withholds_an_answer_the_sentences_do_not_hold(select_settings):
    empty = Assistant(select_settings, llm=ScriptedLLM([json.dumps({"evidence": [], "answer": ""})])).ask(Q)
    assert empty.refused and empty.answer == REFUSAL and empty.citations == () and empty.decision == "refuse"

    def invented(request):  # a real sentence chosen, and an answer no sentence holds
        number = next(n for n, text in request.passages if "yttrium" in text)
        return json.dumps({"evidence": [number], "answer": "Gina Raimondo banned cobalt and nickel"})

    withheld = Assistant(select_settings, llm=ScriptedLLM(invented)).ask(Q)
    assert withheld.refused and withheld.decision == "not_stated"
    first, *quotes = withheld.answer.splitlines()
    assert first == strategies.NOT_PLAINLY and quotes and "Raimondo" not in withheld.answer
    assert withheld.citations and "Raimondo" in withheld.withheld


def test_a_backend_without_a_model_cannot_be_asked_to_write(settings):
    from assistant.llms.extractive import ExtractiveBackend

    with pytest.raises(ConfigError, match="--strategy extractive"):
        strategies.choose(settings.model_copy(update={"strategy": "select"}), ExtractiveBackend())
    assert strategies.choose(settings, ExtractiveBackend()) == "extractive"
    assert strategies.choose(settings, ScriptedLLM([])) == "free"  # a backend naming no strategy writes prose


HITS = [hit(1, "China mines about 70% of rare earths in Inner Mongolia.", "a"),
        hit(2, "Talks between the two sides resumed in London on Monday.", "b")]


def test_a_claim_is_recited_to_the_passage_that_holds_it_or_removed():
    checked = support.check("Talks resumed in London on Monday [1]. China mines 70% of rare earths [1].", HITS)
    assert checked.text == "Talks resumed in London on Monday [2]. China mines 70% of rare earths [1]."
    assert [c.cited for c in checked.claims] == [(2,), (1,)]
    assert checked.claims[0].quote == HITS[1].chunk.text

    invented = support.check("China mines 95% of rare earths [1]. Talks resumed in London [2].", HITS)
    assert invented.removed == ("China mines 95% of rare earths .",) or invented.removed[0].startswith("China mines 95%")
    assert invented.text == "Talks resumed in London [2]."

    nothing = support.check("Japan produces 40% of all magnets [1].", HITS)
    assert nothing.text == REFUSAL and nothing.claims == ()


def test_support_needs_the_figures_names_and_most_words():
    passage = HITS[0].chunk.text
    assert support.holds("China mines 70% of rare earths", passage)
    assert not support.holds("China mines 80% of rare earths", passage)
    assert not support.holds("Australia mines 70% of rare earths", passage)  # a name, even as the first word
    assert not support.holds("Exports of magnets to carmakers collapsed sharply", passage)
    # A name is the same name whichever apostrophe its possessive takes (an article's "’", a model's "'").
    curly = "Beijing’s export controls exposed the US’ reliance on China."
    assert support.holds("Beijing's export controls exposed the US' reliance", curly)
    assert not support.holds("Tokyo's export controls exposed the US' reliance", curly)


SHOWN = [Sentence(0.9, 0, 1, "Trade talks between the two sides opened in London on Monday.", 0, 10),
         Sentence(0.8, 1, 2, "About 75% of affected companies fear their inventory will run out within three months.", 0, 10),
         Sentence(0.7, 2, 3, "Commerce Secretary Howard Lutnick oversees export controls.", 0, 10)]


def decide(question, picked, answer, **settings):
    from assistant.settings import Settings

    settings.setdefault("select_best_margin", 0.0)  # the rules below, without the best sentence added
    settings.setdefault("decision_model", None)  # the rule: answer when the sentences hold the answer
    return strategies.decide(question, SHOWN, picked, answer, Settings(**settings))


def test_the_best_shown_sentence_is_quoted_too_when_close_to_the_best():
    # The model answered from sentence 3 (0.7); the best one (0.9) is quoted too, in reading order,
    # and the first line stays cited to the sentence that holds it.
    draft = decide("Who oversees export controls?", [3], "Howard Lutnick", select_best_margin=0.1)
    assert draft.text.splitlines() == ["Commerce Secretary Howard Lutnick. [3]", f"“{SHOWN[0].text}” [1]", f"“{SHOWN[2].text}” [3]"]
    # Already quoted: the next best (0.8) is within 0.15 of the best, not within 0.05.
    quoted = decide("Where did the talks open?", [1], "In London", select_best_margin=0.15)
    assert quoted.text.splitlines()[1:] == [f"“{SHOWN[0].text}” [1]", f"“{SHOWN[1].text}” [2]"]
    assert decide("Where did the talks open?", [1], "In London", select_best_margin=0.05).text.count("“") == 1


def test_the_first_line_is_cited_to_the_sentence_that_holds_it_whatever_number_the_model_gave():
    draft = decide("What share of companies fear running out, and how soon?", [1], "75% within three months")
    first = draft.text.splitlines()[0]  # the model's words are not one span: what the sentence says
    assert first == "About 75% of affected companies fear their inventory will run out within three months. [2]"
    assert draft.decision == "answer"
    two = decide("Where did the talks open, and who oversees export controls?", [1],
                 "In London; Howard Lutnick oversees export controls")
    assert "[1]" in two.text.splitlines()[0] and "[3]" in two.text.splitlines()[0]  # two sentences hold it


def test_the_first_line_names_a_name_and_a_figure_whole():
    from assistant.answer import direct

    shown = [Sentence(0.9, 0, 1, "The Vatican held the funeral of a former pope for the first time in 600 years ago.", 0, 10),
             Sentence(0.8, 1, 2, "In Washington, President Joe Biden met the San Francisco Bay Area mayors.", 0, 10),
             Sentence(0.7, 2, 3, "Shares of Bed Bath & Beyond fell 30 percent after the Omicron BA.5 wave in 2023 ended.", 0, 10)]

    def line(question, answer):
        return direct.first_line(question, answer, shown, [shown[0]]).text

    assert line("For the first time in how many years?", "600") == "600 years. [1]"  # the figure with what it counts
    assert line("Who met the mayors?", "Joe Biden") == "President Joe Biden. [2]"  # the name with its title
    assert line("Which region's mayors?", "San Francisco") == "San Francisco Bay Area. [2]"
    assert line("Whose shares fell?", "Bath") == "Bed Bath & Beyond. [3]"
    assert line("Which wave?", "BA.5") == "Omicron BA.5. [3]"  # a code is not a figure: "wave" is not taken
    assert line("When did the wave end?", "2023") == "2023. [3]"  # a year keeps what it is
    assert line("Where did they meet?", "Washington") == "Washington. [2]"  # "In" opens the sentence, not the name
    assert line("Whose shares?", "Bath & Beyond") == "Bed Bath & Beyond. [3]"
    opening = [Sentence(0.9, 0, 1, "Though Life Savers sold well, the brand was sold.", 0, 10)]
    assert direct.first_line("Which brand?", "Life Savers", opening, opening).text == "Life Savers. [1]"


def test_a_bare_share_in_the_first_line_is_read_as_a_share_of_what_its_sentence_says(minilm_similarity):
    from assistant.settings import Settings

    shown = [Sentence(0.9, 0, 1, "China controls nearly 90% of the world’s processing capacity.", 0, 10)]

    def lacks(question):
        settings = Settings(decision_model=None, select_best_margin=0.0)
        return strategies.decide(question, shown, [1], "nearly 90%", settings, similarity=minilm_similarity).signals["lacks_asked"]

    assert lacks("What percentage of the world's rare earth reserves lie in China?") == 1.0  # not its reserves
    assert lacks("What share of the world's processing capacity does China control?") == 0.0


def test_a_function_word_or_one_shared_word_does_not_place_the_answer_in_a_sentence():
    from assistant.answer import direct

    shown = [Sentence(0.9, 0, 1, "Trade talks will include Howard Lutnick, whose department oversees export controls.", 0, 10),
             Sentence(0.8, 1, 2, "He Lifeng leads the Chinese side, and his team arrived on Sunday.", 0, 10)]
    answer = "Lutnick was involved because he oversees export controls"
    line = direct.first_line("What part did Lutnick play?", answer, shown, shown)
    assert [s.sentence.n for s in line.spans] == [1]  # not [1, 2] for "he" in "He Lifeng"
    assert "[2]" not in line.text
    slow = [Sentence(0.9, 0, 1, "Manufacturers say the vetting of licences is painstakingly slow.", 0, 10),
            Sentence(0.8, 1, 2, "Approvals can take up to 45 working days, the ministry says.", 0, 10),
            Sentence(0.7, 2, 3, "Trade and commerce resumed in May.", 0, 10)]
    line = direct.first_line("How is the licence process going?",
                             "vetting is slow, taking up to 45 working days, in the words of its commerce ministry", slow, slow)
    assert [s.sentence.n for s in line.spans] == [1, 2]  # not 3 too, for "commerce" alone


def test_an_answer_no_sentence_holds_is_not_stated_plainly_and_an_empty_choice_refused():
    invented = decide("Who oversees export controls?", [3], "Gina Raimondo and the Federal Reserve")
    assert invented.decision == "not_stated" and invented.text.splitlines()[0] == strategies.NOT_PLAINLY
    assert "Raimondo" not in invented.text and "Raimondo" in invented.withheld
    assert decide("Where did the talks open?", [], "London").text == REFUSAL  # chose nothing
    lacking = decide("How many export controls does Lutnick oversee?", [3], "Howard Lutnick")
    assert lacking.signals["lacks_asked"] == 1.0 and lacking.signals["missing_parts"] == 1  # for the fitted decision
    widened = decide("When did the talks open, and how many companies fear running out?", [2], "75%")
    assert widened.text.splitlines()[0] == "About 75% of affected companies fear their inventory will run out within three months. [2]"


def test_a_verdict_stands_only_where_the_sentence_does_not_say_otherwise():
    bare = decide("Did the talks open in London?", [1], "Yes")
    assert bare.text.splitlines()[0].startswith("Yes, ") and bare.text.splitlines()[0].endswith("[1]")
    said = decide("Did the talks open in London?", [3], "Yes, the talks opened in London on Monday")
    assert "[1]" in said.text and "[3]" not in said.text.splitlines()[0]  # cited to what holds its words
    assert support.holds("No.", HITS[0].chunk.text)  # a bare verdict states nothing to look for
    assert not support.holds("Yes, Australia mines 70% of rare earths", HITS[0].chunk.text)
