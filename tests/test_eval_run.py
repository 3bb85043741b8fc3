"""`assistant eval` end to end with the extractive backend, and the QA set's evidence against the
articles as they are indexed."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.evaluation.dataset import load_dataset
from assistant.evaluation.metrics import locate_quote

from conftest import SHARED, needs_shared

REPO = Path(__file__).resolve().parents[1]
QA = REPO / "eval" / "rare_earths_qa.jsonl"
ARTICLES = REPO / "articles"

# Scores that are not shares of something.
NOT_SHARES = {"direct_words", "direct_words_median", "misses_not_shown", "misses_checks", "misses_model", "n", "answer_words", "answer_words_median"}


@pytest.fixture(scope="session")
def article_index(tmp_path_factory) -> Path:
    from assistant.indexing import index_paths
    from assistant.settings import Settings

    index_dir = tmp_path_factory.mktemp("eval") / "index"
    index_paths([ARTICLES], Settings(index_dir=index_dir))
    return index_dir


def run_cli(*args: str):
    result = CliRunner().invoke(app, ["eval", *args])
    assert result.exit_code == 0, result.output
    return result


def check_structure(result: dict, n: int) -> None:
    config = result["config"]
    for key in ("settings_fingerprint", "embedder", "llm", "k", "retrieval", "dataset", "items"):
        assert key in config
    assert config["llm"] == "extractive" and config["items"] == n
    groups = {"overall": result["summary"]["overall"], **result["summary"]["by_type"]}
    for metrics in groups.values():
        for name, value in metrics.items():
            if name not in NOT_SHARES and "_ms_" not in name and value is not None:
                assert 0.0 <= value <= 1.0, (name, value)
    assert len(result["items"]) == n
    assert any(item["prediction"]["citations"] for item in result["items"]), "no citations: the checks below check nothing"
    for item in result["items"]:
        assert {"id", "type", "prediction", "scores"} <= set(item)
        prediction = item["prediction"]
        assert isinstance(prediction["answer"], str) and isinstance(prediction["refused"], bool)
        assert all("doc_id" in c for c in prediction["citations"])
        assert prediction["passages"] and all({"doc_id", "text"} <= set(p) for p in prediction["passages"])
        for name, value in item["scores"].items():
            if name not in NOT_SHARES and value is not None:
                assert 0.0 <= value <= 1.0, (item["id"], name, value)


@pytest.mark.slow
def test_eval_end_to_end_is_deterministic(article_index, tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    common = [str(QA), "--llm", "extractive", "--limit", "6", "--index", str(article_index)]
    shown = run_cli(*common, "--json", str(first), "--report", str(tmp_path / "report"))
    assert "accuracy" in shown.stdout
    run_cli(*common, "--json", str(second))

    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    check_structure(a, 6)
    assert [it["scores"] for it in a["items"]] == [it["scores"] for it in b["items"]]
    assert [it["prediction"] for it in a["items"]] == [it["prediction"] for it in b["items"]]
    strip = lambda s: {k: v for k, v in s.items() if "_ms_" not in k}  # noqa: E731 - latency varies
    assert strip(a["summary"]["overall"]) == strip(b["summary"]["overall"])
    assert (tmp_path / "report" / "report.md").read_text().startswith("# Evaluation report")
    assert (tmp_path / "report" / "report.png").read_bytes()[:4] == b"\x89PNG"

    compared = run_cli("--compare", str(first), str(second))
    assert "No item changed" in compared.stdout


@pytest.mark.slow
def test_retrieval_only_gives_the_same_retrieval_scores(article_index):
    from assistant.evaluation.runner import run_eval
    from assistant.settings import Settings

    settings = Settings(index_dir=article_index, llm="extractive")
    full = run_eval(QA, settings, limit=4)
    fast = run_eval(QA, settings, limit=4, retrieval_only=True)
    retrieval = ("evidence_hit", "evidence_hit_any", "source_recall", "mrr", "ndcg10", "shown_evidence_hit",
                 "shown_evidence_hit_any")
    for a, b in zip(full["items"], fast["items"]):
        assert {k: a["scores"][k] for k in retrieval} == b["scores"]
        assert a["prediction"]["sentences"] == b["prediction"]["sentences"] and len(b["prediction"]["sentences"]) == 12
        assert b["prediction"]["answer"] is None
    assert fast["config"]["llm"] is None and "accuracy" not in fast["summary"]["overall"]


def test_bad_dataset_is_one_line_error(tmp_path):
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "missing.jsonl"), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert "error:" in result.stderr and "no such QA file" in result.stderr
    assert not (tmp_path / "i").exists()  # nothing was indexed for a run that cannot start


# -- the QA set's evidence -----------------------------------------------------------------------

def evidence_cases():
    return [(it.id, doc_id, quote) for it in load_dataset(QA) for doc_id, quote in zip(it.sources, it.evidence)]


@pytest.fixture(scope="module")
def cleaned_documents():
    from assistant.ingest import load_documents

    return {d.id: d.text for d in load_documents([ARTICLES])}


@pytest.mark.parametrize("item_id, doc_id, quote", evidence_cases())
def test_evidence_is_verbatim_in_its_article_file(item_id, doc_id, quote):
    assert quote in (ARTICLES / f"{doc_id}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("item_id, doc_id, quote", evidence_cases())
def test_evidence_is_verbatim_in_the_cleaned_document(item_id, doc_id, quote, cleaned_documents):
    # Cleaning turns non-breaking spaces into plain ones; nothing else may change a quote.
    assert quote.replace("\u00a0", " ") in cleaned_documents[doc_id]


@pytest.mark.parametrize("item_id, doc_id, quote", evidence_cases())
def test_evidence_is_found_by_the_eval_in_the_cleaned_document(item_id, doc_id, quote, cleaned_documents):
    """What evidence hit relies on: the quote located, up to whitespace, in the indexed text."""
    assert locate_quote(quote, cleaned_documents[doc_id]) != (-1, -1)


# -- RealTime QA on a tiny made-up benchmark folder ------------------------------------------------

def fake_realtimeqa(root: Path) -> Path:
    pope = {"url": "https://news.example/pope", "title": "Benedict laid to rest", "publish_date": "2023/01/05",
            "text": "Pope Benedict XVI was laid to rest on Thursday in St. Peter's Square. Tens of thousands of "
                    "mourners attended the funeral Mass, which Pope Francis led in front of the basilica."}
    bills = {"url": "https://news.example/hamlin", "title": "Hamlin improving",
             "text": "Damar Hamlin of the Buffalo Bills showed remarkable improvement after suffering a cardiac "
                     "arrest during Monday night's game against the Cincinnati Bengals, his team said."}
    blank = {"url": "https://news.example/empty", "title": "Empty", "text": "  "}
    (root / "documents").mkdir(parents=True)
    (root / "questions").mkdir()
    searches = [{"question_id": "20230106_0", "search_result": [bills, blank]},
                {"question_id": "20230106_1", "search_result": [pope, bills]}]  # bills twice: pooled once
    (root / "documents" / "20230106_gcs.jsonl").write_text("\n".join(json.dumps(s) for s in searches) + "\n")
    (root / "documents" / "20230331_gcs.jsonl").write_text("")  # no questions that week
    questions = [
        {"question_id": "20230106_0", "question_sentence": "Damar Hamlin plays for which team?",
         "choices": ["Pittsburgh Steelers", "Cincinnati Bengals", "Buffalo Bills", "Cleveland Browns"], "answer": ["2"]},
        {"question_id": "20230106_1", "question_sentence": "Which former pope was laid to rest this week?",
         "choices": ["Pope John Paul II", "Pope Paul VI", "Pope Pius XII", "Pope Benedict XVI"], "answer": ["3"]},
        {"question_id": "20230106_2", "question_sentence": "Which country won the curling final?",
         "choices": ["Sweden", "Norway", "Canada", "Scotland"], "answer": ["0"]},
    ]
    (root / "questions" / "20230106_qa.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    return root


def test_realtimeqa_weeks_and_pooling(tmp_path):
    from assistant.errors import InputError
    from assistant.evaluation import realtimeqa

    root = fake_realtimeqa(tmp_path / "rtqa")
    assert realtimeqa.available_weeks(root) == ["20230106"]
    assert realtimeqa.choose_weeks(root, None) == ["20230106"]
    with pytest.raises(InputError, match="no RealTime QA week 20230331"):
        realtimeqa.choose_weeks(root, "20230106,20230331")
    rows = realtimeqa.pool_articles(root, ["20230106"])
    assert [r["url"] for r in rows] == ["https://news.example/hamlin", "https://news.example/pope"]
    assert rows[1]["date"] == "2023-01-05" and rows[1]["id"] == realtimeqa.article_id("https://news.example/pope")
    questions = realtimeqa.load_questions(root, ["20230106"])
    assert questions[1]["gold"] == [3] and questions[1]["question"].startswith("Which former pope")


@pytest.mark.slow
def test_realtimeqa_run_and_rerun_without_reembedding(tmp_path):
    from assistant.evaluation import realtimeqa
    from assistant.settings import Settings

    root = fake_realtimeqa(tmp_path / "rtqa")
    work = tmp_path / "work"
    settings = Settings(llm="extractive", k=2)
    result = realtimeqa.run_realtimeqa(root, settings, work_dir=work)
    assert (work / "corpus.jsonl").is_file() and (work / "index" / "CURRENT").is_file()
    overall = result["summary"]["overall"]
    assert overall["n"] == 3 and overall["answer_in_corpus"] == pytest.approx(2 / 3)  # no curling article
    assert list(result["summary"]["by_type"]) == ["in_corpus", "not_in_corpus"]
    by_id = {it["id"]: it for it in result["items"]}
    assert by_id["20230106_1"]["scores"]["answer_in_passages"] is True
    # No article mentions curling: the extractive backend refuses, which is the right answer there.
    curling = by_id["20230106_2"]
    assert curling["answerable"] is False and curling["scores"]["refused"] is True and curling["scores"]["correct"] is True
    assert result["summary"]["by_type"]["not_in_corpus"]["refusal_recall"] == 1.0
    # extractive answers are one line of quotes: its first line alone scores as the whole answer
    assert all(it["scores"]["direct_correct"] == it["scores"]["correct"] for it in result["items"])
    assert result["config"]["weeks"] == ["20230106"] and result["config"]["corpus_articles"] == 2

    generation = (work / "index" / "CURRENT").read_text()
    again = realtimeqa.run_realtimeqa(root, settings, work_dir=work, retrieval_only=True)
    assert (work / "index" / "CURRENT").read_text() == generation  # up to date: not rebuilt, nothing embedded
    assert [it["scores"]["answer_in_passages"] for it in again["items"]] == \
           [it["scores"]["answer_in_passages"] for it in result["items"]]

    other = settings.model_copy(update={"chunk_tokens": 96})  # its own work index: rebuilt, not refused
    realtimeqa.run_realtimeqa(root, other, work_dir=work, retrieval_only=True)
    assert (work / "index" / "CURRENT").read_text() != generation


@needs_shared("benchmarks/realtimeqa")
def test_realtimeqa_dev_and_test_weeks_are_disjoint_and_cover_the_benchmark():
    from assistant.errors import InputError
    from assistant.evaluation import realtimeqa

    root = SHARED / "benchmarks" / "realtimeqa"
    weeks = realtimeqa.available_weeks(root)
    dev, test = realtimeqa.choose_weeks(root, None, "dev"), realtimeqa.choose_weeks(root, None, "test")
    assert dev == weeks[: realtimeqa.DEV_WEEKS] and test and not set(dev) & set(test)
    assert sorted(dev + test) == weeks
    with pytest.raises(InputError, match="--weeks or --split"):
        realtimeqa.choose_weeks(root, "20230106", "dev")
    with pytest.raises(InputError, match="choose dev or test"):
        realtimeqa.choose_weeks(root, None, "train")


def test_no_key_is_given_away_by_its_question():
    """A must_include element every alternative of which the question already holds proves nothing:
    an answer repeating the question would match it."""
    from assistant.evaluation.metrics import says
    from assistant.text import normalise

    given_away = []
    for item in (json.loads(line) for line in QA.read_text(encoding="utf-8").splitlines() if line.strip()):
        question = normalise(item["question"])
        for element in item["must_include"]:
            alternatives = [element] if isinstance(element, str) else element
            if all(says(question, alt) for alt in alternatives):
                given_away.append((item["id"], alternatives[0]))
    assert given_away == []
