"""The evaluation's scoring functions on small hand-made cases (no model, no index)."""

import json
import math

import pytest

from assistant.errors import InputError
from assistant.evaluation import metrics as m
from assistant.evaluation.dataset import load_dataset
from assistant.evaluation.runner import compare


def passage(text, doc_id="d1", chunk_id="d1#0", start=0, end=None):
    return {"doc_id": doc_id, "chunk_id": chunk_id, "start": start, "end": len(text) if end is None else end,
            "text": text}


def evidence(quote, doc_id="d1", start=-1, end=-1):
    return {"doc_id": doc_id, "quote": quote, "start": start, "end": end}


# -- answers -------------------------------------------------------------------------------------

def test_contains_answer_needs_every_element_case_insensitive():
    must = ["dysprosium", "Terbium"]
    assert m.contains_answer("Dysprosium and terbium were restricted.", must)
    assert not m.contains_answer("Dysprosium was restricted.", must)


def test_contains_answer_accepts_any_alternative():
    must = [["70%", "70 per cent", "70 percent"], "mining"]
    assert m.contains_answer("About 70 per cent of mining happens in China.", must)
    assert m.contains_answer("Mining: 70%.", must)
    assert not m.contains_answer("About seventy per cent of mining.", must)


def test_contains_answer_ignores_typography():
    assert m.contains_answer("China’s share is 90\u00a0per cent", [["90 per cent"], "china's"])


def test_empty_answer_is_wrong():
    assert not m.contains_answer("", ["gallium"])
    assert not m.is_correct("", False, ["gallium"], answerable=True)
    assert m.word_count("") == 0


def test_conflict_item_needs_each_sources_figure():
    must = ["62%", ["70%", "70 per cent"]]  # one figure per disagreeing article
    assert not m.is_correct("China mines 62% of the world's rare earths [1].", False, must, answerable=True)
    assert not m.is_correct("China mines about 70% of rare earths [2].", False, must, answerable=True)
    assert m.is_correct("One article says 62% [1], another about 70 per cent [2].", False, must, answerable=True)


def test_refusal_is_right_only_for_unanswerable_items():
    refusal = "The articles do not contain the answer to this question."
    assert m.is_correct(refusal, True, [], answerable=False)
    assert not m.is_correct("It was 2019.", False, [], answerable=False)
    # A refused answerable item is wrong even when the refusal happens to contain the words.
    assert not m.is_correct("The articles do not contain the answer", True, ["answer"], answerable=True)


def test_answer_scores_for_unanswerable_items_leave_out_citation_recall():
    prediction = {"answer": "The articles do not contain the answer to this question.", "refused": True,
                  "citations": [], "passages": []}
    scores = m.answer_scores(prediction, [], [], answerable=False)
    assert scores["correct"] is True and scores["refused"] is True
    assert scores["citation_precision"] is None and scores["citation_recall"] is None
    assert scores["claim_support"] is None


def test_the_direct_answer_is_scored_on_its_own_line_apart_from_the_quotes_under_it():
    prediction = {"answer": "Kevin Hern. [1]\n“Republicans blocked Kevin McCarthy from the speakership.” [1]",
                  "refused": False, "citations": [], "passages": []}
    scores = m.answer_scores(prediction, ["McCarthy"], [], answerable=True)
    assert scores["correct"] is True and scores["direct_correct"] is False  # only a quote names him
    right = dict(prediction, answer="Kevin McCarthy. [1]\n“Republicans blocked Kevin McCarthy.” [1]")
    assert m.answer_scores(right, ["McCarthy"], [], answerable=True)["direct_correct"] is True
    refused = {"answer": "The articles do not say.", "refused": True, "citations": [], "passages": []}
    assert m.answer_scores(refused, [], [], answerable=False)["direct_correct"] is True


def test_word_count_leaves_out_citation_markers():
    assert m.word_count("Gallium and germanium [1]. Also antimony [2, 3].") == 5


def test_picks_choice():
    choices = ["Pittsburgh Steelers", "Cincinnati Bengals", "Buffalo Bills", "Bills"]
    assert m.picks_choice("He plays for the Buffalo Bills.", choices, [2])  # "Bills" is inside the gold choice
    assert not m.picks_choice("Either the Buffalo Bills or the Cincinnati Bengals.", choices, [2])
    assert not m.picks_choice("The Steelers.", choices, [2])
    assert not m.picks_choice("", choices, [2])


# -- retrieval -----------------------------------------------------------------------------------

def test_locate_quote_tolerates_whitespace():
    text = "Intro. In April 2025, China suspended almost all exports. End."
    assert m.locate_quote("China suspended\u00a0almost all", text) == (22, 48)
    assert m.locate_quote("not there", text) == (-1, -1)


def test_passage_holds_quote_by_text():
    p = passage("Prices rose. In April 2025, China\nsuspended exports.")
    assert m.passage_holds(p, evidence("china suspended exports"))
    assert not m.passage_holds(p, evidence("Japan suspended exports"))


def test_passage_holds_quote_by_span_of_the_same_document():
    # A quote cut by a chunk boundary: 80 of its 100 characters lie in the chunk.
    ev = evidence("x" * 100, doc_id="d1", start=120, end=220)
    assert m.passage_holds(passage("other text", start=100, end=200), ev)
    assert not m.passage_holds(passage("other text", start=100, end=199), ev)  # 79%
    assert not m.passage_holds(passage("other text", doc_id="d2", start=100, end=300), ev)


def test_evidence_hit_needs_every_quote_and_any_needs_one():
    evs = [evidence("alpha beta gamma"), evidence("delta epsilon", doc_id="d2")]
    shown = [passage("... alpha beta gamma ..."), passage("nothing", doc_id="d2", chunk_id="d2#0")]
    found = m.evidence_found(shown, evs)
    assert found == [frozenset({0}), frozenset()]
    assert m.evidence_hit(found, 2) is False
    assert m.evidence_hit_any(found, 2) is True
    assert m.evidence_hit(m.evidence_found(shown + [passage("delta epsilon!", doc_id="d2")], evs), 2) is True
    assert m.evidence_hit([], 0) is None and m.evidence_hit_any([], 0) is None


def test_source_recall():
    shown = [passage("a", doc_id="d1"), passage("b", doc_id="d1"), passage("c", doc_id="d3")]
    assert m.source_recall(shown, ["d1", "d2"]) == 0.5
    assert m.source_recall(shown, []) is None


def test_reciprocal_rank():
    assert m.reciprocal_rank([False, False, True, True]) == pytest.approx(1 / 3)
    assert m.reciprocal_rank([frozenset(), frozenset({1})]) == 0.5
    assert m.reciprocal_rank([False, False]) == 0.0
    assert m.reciprocal_rank([]) == 0.0


def test_ndcg_hand_computed():
    # Two quotes; rank 2 holds quote 0, rank 3 repeats it (no gain), rank 4 holds quote 1.
    found = [frozenset(), frozenset({0}), frozenset({0}), frozenset({1})]
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert m.ndcg(found, 2) == pytest.approx(dcg / ideal)  # 0.6509
    assert m.ndcg([frozenset({0, 1})], 1) == 1.0
    assert m.ndcg([frozenset()] * 10 + [frozenset({0})], 1, depth=10) == 0.0  # beyond the depth
    assert m.ndcg([], 0) is None


def test_retrieval_scores_use_shown_passages_at_k_and_the_ranking_for_mrr():
    evs = [evidence("the quote")]
    shown = [passage("no"), passage("still no")]
    ranking = shown + [passage("here is the quote")]
    scores = m.retrieval_scores(shown, ranking, evs, ["d1"])
    assert scores["evidence_hit"] is False and scores["source_recall"] == 1.0
    assert scores["mrr"] == pytest.approx(1 / 3)
    assert scores["ndcg10"] == pytest.approx(1 / math.log2(4))


def test_sentence_scores_test_each_quote_against_the_shown_sentences():
    evs = [evidence("alpha beta gamma"), evidence("delta epsilon", doc_id="d2", start=50, end=63)]
    sentence = lambda text, doc_id="d1", start=0, end=10: {"doc_id": doc_id, "text": text, "start": start, "end": end}  # noqa: E731
    shown = [sentence("Alpha beta gamma, it said."), sentence("Unrelated.", doc_id="d2", start=0, end=40)]
    assert m.sentence_scores(shown, evs) == {"shown_evidence_hit": False, "shown_evidence_hit_any": True}
    # the second quote's span lies in a shown sentence of its document
    shown.append(sentence("Delta, epsilon.", doc_id="d2", start=45, end=70))
    assert m.sentence_scores(shown, evs) == {"shown_evidence_hit": True, "shown_evidence_hit_any": True}
    assert m.sentence_scores(shown, []) == {"shown_evidence_hit": None, "shown_evidence_hit_any": None}


# -- citations -----------------------------------------------------------------------------------

def test_citation_precision_and_recall_count_documents():
    cites = [{"n": 1, "doc_id": "d1"}, {"n": 2, "doc_id": "d1"}, {"n": 3, "doc_id": "d9"}]
    assert m.citation_precision(cites, ["d1", "d2"]) == 0.5  # cited {d1, d9}
    assert m.citation_recall(cites, ["d1", "d2"]) == 0.5
    assert m.citation_precision([], ["d1"]) is None
    assert m.citation_recall([], ["d1"]) == 0.0


def test_claim_support_is_measured_on_the_answer_and_the_cited_passages_alone():
    shown = [passage("China restricted gallium exports in December 2024."), passage("Talks resumed in London on Monday.")]
    held = "China restricted gallium exports in 2024 [1]."
    assert m.claim_support(held, False, shown) == 1.0
    assert m.claim_support("Talks resumed in London [1].", False, shown) == 0.0  # cites the wrong passage
    assert m.claim_support("China restricted gallium exports in 2023 [1].", False, shown) == 0.0  # a figure it lacks
    assert m.claim_support("Gallium exports were restricted by Beijing [1].", False, shown) == 0.0  # a name it lacks
    assert m.claim_support("Talks resumed in London.", False, shown) == 0.0  # cites nothing
    both = f"{held}\n“Talks resumed in London on Monday.” [2]"
    assert m.claim_support(both, False, shown) == 1.0
    assert m.claim_support(f"{held} [7] Talks ended in Paris.", False, shown) == pytest.approx(1 / 2)
    assert m.claim_support("The articles do not contain the answer to this question.", True, shown) is None


def test_answer_claims_give_a_lone_marker_to_the_sentence_before_it():
    assert m.answer_claims("Gallium was restricted. [1]\n“Talks resumed.” [2]") == [
        ("Gallium was restricted.", [1]), ("Talks resumed.", [2])]


def test_conflicts_count_as_both_sourced_only_with_both_values_and_both_articles_cited():
    prediction = {"answer": "62% [1] and 70% [2].", "refused": False, "passages": [passage("x"), passage("y")],
                  "citations": [{"n": 1, "doc_id": "a"}, {"n": 2, "doc_id": "b"}]}
    assert m.answer_scores(prediction, ["62%", "70%"], ["a", "b"], True, "conflict")["both_sourced"] is True
    one_cited = {**prediction, "citations": prediction["citations"][:1]}
    assert m.answer_scores(one_cited, ["62%", "70%"], ["a", "b"], True, "conflict")["both_sourced"] is False
    assert m.answer_scores(prediction, ["62%", "80%"], ["a", "b"], True, "conflict")["both_sourced"] is False
    assert m.answer_scores(prediction, ["62%", "70%"], ["a", "b"], True, "fact")["both_sourced"] is None


# -- summaries -----------------------------------------------------------------------------------

def test_percentile_interpolates():
    assert m.percentile([4, 1, 3, 2], 50) == 2.5
    assert m.percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert m.percentile([7], 95) == 7
    assert m.percentile([], 50) is None


def _item(type_, timings=None, **scores):
    return {"type": type_, "scores": scores, "timings_ms": timings or {}}


def test_summarise_overall_and_by_type():
    items = [
        _item("fact", {"retrieval": 10, "total": 100}, correct=True, refused=False, evidence_hit=True, answer_words=10),
        _item("fact", {"retrieval": 20, "total": 200}, correct=False, refused=True, evidence_hit=False, answer_words=9),
        _item("unanswerable", {"retrieval": 30, "total": 300}, correct=True, refused=True, evidence_hit=None,
              answer_words=9),
        _item("unanswerable", {"retrieval": 40, "total": 400}, correct=False, refused=False, evidence_hit=None,
              answer_words=30),
    ]
    summary = m.summarise(items)
    overall, fact, unans = summary["overall"], summary["by_type"]["fact"], summary["by_type"]["unanswerable"]
    assert list(summary["by_type"]) == ["fact", "unanswerable"]
    assert overall["n"] == 4 and overall["accuracy"] == 0.5
    assert overall["evidence_hit"] == 0.5  # over the answerable items only
    assert overall["refusal_recall"] == 0.5 and overall["false_refusal_rate"] == 0.5
    assert fact["refusal_recall"] is None and unans["false_refusal_rate"] is None
    assert unans["evidence_hit"] is None
    assert overall["answer_words_median"] == 9.5
    assert overall["total_ms_p50"] == 250 and fact["retrieval_ms_p95"] == pytest.approx(19.5)
    assert "citation_precision" not in overall  # no item of this run has the score


def test_summarise_retrieval_only_run_has_no_answer_metrics():
    items = [_item("fact", {"retrieval": 5}, evidence_hit=True, mrr=1.0)]
    overall = m.summarise(items)["overall"]
    assert overall["evidence_hit"] == 1.0 and overall["mrr"] == 1.0
    assert "accuracy" not in overall and "refusal_recall" not in overall and "total_ms_p50" not in overall


# -- dataset -------------------------------------------------------------------------------------

GOOD = {"id": "q1", "question": "What?", "answer": "This.", "must_include": ["this"], "sources": ["d1"],
        "evidence": ["a quote from d1"], "type": "fact"}


def write_lines(tmp_path, *rows):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_bundled_dataset_loads_with_a_dev_and_a_test_split():
    items = load_dataset("eval/rare_earths_qa.jsonl")
    dev, test = load_dataset("eval/rare_earths_qa.jsonl", "dev"), load_dataset("eval/rare_earths_qa.jsonl", "test")
    assert len(dev) == 173 and len(test) == 92 and len(dev) + len(test) == len(items)
    assert not {it.id for it in dev} & {it.id for it in test}
    for kind in ("multi_doc", "list", "conflict", "unanswerable", "paraphrase"):  # the thin types, issue 10
        assert sum(it.type == kind for it in test) >= 15, kind
    with pytest.raises(InputError, match="no items in split 'train'; its splits: dev, test"):
        load_dataset("eval/rare_earths_qa.jsonl", "train")


def test_any_type_label_is_accepted_and_summarised(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({**GOOD, "type": "opinion"}) + "\n")
    (item,) = load_dataset(path)
    assert item.type == "opinion" and item.answerable
    summary = m.summarise([{"type": "opinion", "scores": {"correct": True, "refused": False}, "timings_ms": {}}])
    assert summary["by_type"]["opinion"]["accuracy"] == 1.0


@pytest.mark.parametrize("row, message", [
    ("{not json", "qa.jsonl:1: not valid JSON"),
    ({**GOOD, "type": ""}, "'type' must be a non-empty label"),
    ({**GOOD, "evidence": []}, "one quote per source"),
    ({k: v for k, v in GOOD.items() if k != "question"}, "missing field(s) question"),
    ({**GOOD, "must_include": [["a", 3]]}, "must_include"),
    ({**GOOD, "type": "unanswerable"}, "unanswerable item has empty"),
])
def test_bad_dataset_lines_raise_one_line_input_errors(tmp_path, row, message):
    with pytest.raises(InputError) as e:
        load_dataset(write_lines(tmp_path, row))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_duplicate_ids_and_missing_files(tmp_path):
    with pytest.raises(InputError, match="qa.jsonl:2: duplicate id 'q1'"):
        load_dataset(write_lines(tmp_path, GOOD, GOOD))
    with pytest.raises(InputError, match="no such QA file"):
        load_dataset(tmp_path / "missing.jsonl")


# -- comparing runs ------------------------------------------------------------------------------

def _run(acc, items, llm="extractive"):
    return {"config": {"llm": llm, "k": 5}, "summary": {"overall": {"n": len(items), "accuracy": acc},
                                                        "by_type": {"fact": {"n": len(items), "accuracy": acc}}},
            "items": items}


def test_compare_lists_metric_deltas_and_changed_items():
    a = _run(0.5, [{"id": "q1", "type": "fact", "question": "?", "scores": {"correct": True, "evidence_hit": True}},
                   {"id": "q2", "type": "fact", "question": "?", "scores": {"correct": False, "evidence_hit": True}},
                   {"id": "q3", "type": "fact", "question": "?", "scores": {"correct": False}}])
    b = _run(1.0, [{"id": "q1", "type": "fact", "question": "?", "scores": {"correct": True, "evidence_hit": True}},
                   {"id": "q2", "type": "fact", "question": "?", "scores": {"correct": True, "evidence_hit": False}}],
             llm="local")
    diff = compare(a, b)
    assert diff["config"] == {"llm": ["extractive", "local"]}
    acc = next(r for r in diff["metrics"] if r["group"] == "overall" and r["metric"] == "accuracy")
    assert acc == {"group": "overall", "metric": "accuracy", "a": 0.5, "b": 1.0, "delta": 0.5}
    assert [it["id"] for it in diff["items"]] == ["q2"]
    assert diff["items"][0]["changes"] == {"correct": [False, True], "evidence_hit": [True, False]}
    assert diff["only_in_a"] == ["q3"] and diff["only_in_b"] == []


def test_keys_match_as_whole_words_and_markers_are_not_words():
    assert not m.contains_answer("The Mayor of London spoke.", ["May"])
    assert m.contains_answer("Talks resumed in May.", ["May"])
    assert not m.contains_answer("Production in 1990 fell.", ["90"])
    assert m.contains_answer("Nearly 90% of refining.", [["90%", "90 per cent"]])
    assert not m.picks_choice("15 rounds. [1]", ["1", "5", "11", "15"], [0])  # "[1]" is a citation, not "1"
    assert m.picks_choice("15 rounds. [1]", ["1", "5", "11", "15"], [3])


def test_a_yes_or_no_item_is_wrong_with_the_wrong_verdict_and_its_first_line_needs_one():
    keys = [["did not mention", "no mention"]]
    assert m.is_correct("No, the statement did not mention rare earths.", False, keys, True, verdict="no")
    assert not m.is_correct("Yes, though the statement did not mention rare earths.", False, keys, True, verdict="no")
    assert m.is_correct("The statement did not mention rare earths.", False, keys, True, verdict="no")  # no verdict said
    assert not m.is_direct_correct("The statement did not mention rare earths.", False, keys, True, verdict="no")
    assert m.is_direct_correct("No, it did not mention them. [2]\n“...” [2]", False, keys, True, verdict="no")
    assert m.verdict_of("True: it did.") == "yes" and m.verdict_of("Not quite.") == ""


def test_a_first_line_is_a_sentence_or_two_and_a_list_as_long_as_the_list():
    one_line = "It was 90%. " + "More words follow here. " * 14
    assert m.word_count(one_line) > m.DIRECT_WORDS
    assert m.is_correct(one_line, False, ["90%"], True)
    assert not m.is_direct_correct(one_line, False, ["90%"], True)  # everything said on one line
    assert m.is_direct_correct("It was 90%.\n" + one_line, False, ["90%"], True)
    seven = ["dysprosium", "gadolinium", "lutetium", "samarium", "scandium", "terbium", "yttrium"]
    assert m.direct_word_limit(seven) == m.DIRECT_WORDS + 7
