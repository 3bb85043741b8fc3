"""support.py reads what a passage says against a claim (claims.py): negations, yes/no verdicts,
figures and names put where the passage has others; the perturbation suite made from the QA set's
evidence (tests/perturbations.py) on both splits; and no sentence of an article is ever flagged
against its own passage."""

import pytest
from perturbations import PERTURBED_KINDS, TRUE_KINDS, documents, passage, rates, run, share

from assistant.answer.claims import conflict
from assistant.lexical import terms, tokenize
from assistant.answer.support import check, holds, unsupported
from assistant.types import Chunk, Hit

PASSAGE = ("On 4 April 2025, China suspended exports of seven rare earths. Beijing is unlikely to cede its leverage "
           "without reciprocal actions. Talks began in London, where Scott Bessent met He Lifeng. Prices rose 30% in "
           "May, while exports fell 70%. China's statement did not mention rare earths.")


def hit(n, text):
    return Hit(chunk=Chunk(id=f"d#{n}", doc_id="d", start=0, end=len(text), text=text), score=1.0, rank=n)


# -- the demos of issue 27 -------------------------------------------------------------------------

@pytest.mark.parametrize("claim", [
    "China did not suspend exports of rare earths.",
    "China never suspended exports of seven rare earths.",
    "China failed to suspend exports.",
    "China's statement mentioned rare earths.",  # the passage's own negation taken out
    "China's statement did mention rare earths.",
])
def test_a_negation_the_passage_does_not_make_is_flagged(claim):
    assert "the passage" in unsupported(claim, PASSAGE)


@pytest.mark.parametrize("claim", [
    "China suspended exports of seven rare earths.",
    "China's statement did not mention rare earths.",
    "China's statement made no mention of rare earths.",
    "Beijing is unlikely to cede its leverage without reciprocal actions.",
    "Beijing would want reciprocal actions.",  # "unlikely ... without": two cues in one clause
    "Not only did China suspend exports, it did so on 4 April 2025.",  # "not only" states what follows
])
def test_what_the_passage_says_holds(claim):
    assert holds(claim, PASSAGE), unsupported(claim, PASSAGE)


def test_a_negation_stops_where_and_brings_a_verb_of_its_own():
    passage = "Experts say China is unlikely to completely remove the restrictions and is “flexing its muscles”."
    assert holds("China is flexing its muscles.", passage), unsupported("China is flexing its muscles.", passage)
    assert "the passage" in unsupported("China is not flexing its muscles.", passage)
    assert "the passage" in unsupported("China will completely remove the restrictions.", passage)


@pytest.mark.parametrize("claim, question, flagged", [
    ("No.", "Did China suspend exports of seven rare earths?", True),
    ("Yes.", "Did China suspend exports of seven rare earths?", False),
    ("No, China suspended exports.", "Did China suspend exports?", True),
    ("Yes, China suspended exports.", "Did China suspend exports?", False),
    ("Yes, China's statement did not mention rare earths.", "Did China's statement mention rare earths?", True),
    ("No, China's statement did not mention rare earths.", "Did China's statement mention rare earths?", False),
    ("Yes.", "Did China's statement mention rare earths?", True),
    ("No.", "Did Japan ban gallium exports?", False),  # the passage does not say: nothing against it
    ("No more than 70% fell.", "Did exports fall?", False),  # "No more than" is no verdict
])
def test_a_verdict_is_checked_against_what_is_stated(claim, question, flagged):
    assert bool(conflict(claim, PASSAGE, question)) is flagged


@pytest.mark.parametrize("claim, flagged", [
    ("Prices rose 70% in May.", True),  # a figure of the passage, beside other words there
    ("Prices rose 30% in May.", False),
    ("Exports fell 70%, while prices rose 30%.", False),
    ("Talks began in London, where He Lifeng met Scott Bessent.", False),
    ("Talks began in Beijing, where Scott Bessent met He Lifeng.", True),  # a name of the passage, put in London's place
    ("On 30 April 2025, China suspended exports.", True),
])
def test_a_figure_or_name_where_the_passage_has_another_is_flagged(claim, flagged):
    assert bool(unsupported(claim, PASSAGE)) is flagged, unsupported(claim, PASSAGE)


def test_a_contradicted_bare_verdict_is_removed_not_cited_to_a_passage_that_says_nothing():
    from assistant.prompts import REFUSAL

    hits = [hit(1, "China suspended exports of seven rare earths in April."), hit(2, "Talks began in London on Monday.")]
    question = "Did China suspend exports of seven rare earths?"
    supported = check("No. [1]", hits, question)
    assert supported.removed == ("No.",) and supported.text == REFUSAL
    assert check("Yes. [1]", hits, question).text == "Yes. [1]"
    # As select composes it ("No." abbreviates "number", so the quote under it is read with it): its own quote says yes.
    quoted = "“China suspended exports of seven rare earths in April.” [1]"
    assert check(f"No. [1]\n{quoted}", hits, question).text == REFUSAL
    assert check(f"Yes. [1]\n{quoted}", hits, question).text == f"Yes. [1]\n{quoted}"


def test_a_contradicted_sentence_moves_to_the_passage_that_holds_it():
    hits = [hit(1, "China did not suspend exports in May."), hit(2, "China suspended exports in April.")]
    supported = check("China suspended exports. [1]", hits)
    assert supported.text == "China suspended exports [2]." and [c.cited for c in supported.claims] == [(2,)]


# -- verbatim quotes ---------------------------------------------------------------------------------

def test_no_sentence_of_an_article_is_flagged_against_its_own_passage():
    """What extractive answers and select's quotes are: a sentence copied from the passage, bare or in quotes."""
    flagged = []
    for doc in documents().values():
        spans = _spans(doc)
        for s, e in spans:
            text = passage(doc, s, e)
            for claim in (doc.text[s:e], f"“{doc.text[s:e]}”"):
                if why := unsupported(claim, text):
                    flagged.append((doc.id, claim, why))
        # A heading (no full stop) quoted with the sentence after it is read as one claim, the marker
        # between them removed: "Mixed Messages from China [2] Interestingly, ..." holds too.
        for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
            claim = f"{doc.text[s1:e1].rstrip('.')}  {doc.text[s2:e2]}"
            if why := unsupported(claim, passage(doc, s1, e2)):
                flagged.append((doc.id, claim, why))
    assert len(flagged) == 0, flagged


def _spans(doc):
    from assistant.chunking import sentence_spans

    return sentence_spans(doc.text)


def test_terms_are_tokenize_word_by_word():
    text = "China’s exports didn't fall; U.S. firms can't wait — 90% of the world's supply."
    from assistant.lexical import word_spans

    assert [t for t in terms([text[s:e] for s, e in word_spans(text)]) if t] == tokenize(text)


# -- the perturbation suite ----------------------------------------------------------------------------

@pytest.mark.parametrize("split", ["dev", "test"])
def test_perturbation_suite(split):
    """At least 0.95 of the perturbed claims flagged and at most 0.05 of the true ones; a verbatim
    quote never; each kind of perturbation at least 0.9 (so that none can collapse behind the others)."""
    counts = rates(run(split))
    assert share(counts, PERTURBED_KINDS) >= 0.95, counts
    assert share(counts, TRUE_KINDS) <= 0.05, counts
    assert counts["verbatim"][0] == 0 and counts["verbatim"][1] > 50, counts
    for kind in PERTURBED_KINDS:
        assert counts[kind][1] > 20 and counts[kind][0] >= 0.9 * counts[kind][1], (kind, counts)
