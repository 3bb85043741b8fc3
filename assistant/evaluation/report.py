"""An eval result as tables (for the terminal and markdown) and as DIR/report.md + DIR/report.png."""

from __future__ import annotations

from pathlib import Path

LABELS = {
    "n": "items",
    "direct_accuracy": "accuracy, first line (headline)",
    "accuracy": "accuracy, whole answer",
    "verdict_accuracy": "yes/no verdicts right",
    "evidence_hit": "evidence hit@{k}",
    "evidence_hit_any": "evidence hit any@{k}",
    "source_recall": "source recall@{k}",
    "mrr": "MRR@{depth}",
    "ndcg10": "nDCG@10",
    "answer_in_corpus": "answer in corpus (ceiling)",
    "answer_in_passages": "answer in passages@{k}",
    "shown_evidence_hit": "evidence in shown sentences",
    "shown_evidence_hit_any": "evidence any in shown sentences",
    "answer_in_sentences": "answer in shown sentences",
    "refusal_recall": "refusal recall",
    "false_refusal_rate": "false refusal rate",
    "citation_precision": "citation precision",
    "citation_recall": "citation recall",
    "claim_support": "claim support",
    "conflict_both_sourced": "conflicts: both values, both sources",
    "direct_words_median": "first line words (median)",
    "oracle_direct_accuracy": "oracle reader, first line",
    "misses_not_shown": "wrong: evidence not shown",
    "misses_checks": "wrong: lost by the checks",
    "misses_model": "wrong: the model",
    "answer_words_median": "answer words (median)",
    "retrieval_ms_p50": "retrieval ms p50",
    "retrieval_ms_p95": "retrieval ms p95",
    "sentences_ms_p50": "sentence ranking ms p50",
    "sentences_ms_p95": "sentence ranking ms p95",
    "total_ms_p50": "answer ms p50",
    "total_ms_p95": "answer ms p95",
}


def label(metric: str, config: dict) -> str:
    k = config.get("k", "k")
    return LABELS.get(metric, metric).format(k=k, depth=config.get("ranking_depth", 10))


def fmt(metric: str, value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if "_ms_" in metric:
        return f"{value:,.0f}"
    if metric in ("n", "answer_words_median", "direct_words_median") or metric.startswith("misses_"):
        return f"{value:g}"
    return f"{value:.3f}"


def summary_table(result: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per metric, columns overall then each type."""
    summary, config = result["summary"], result["config"]
    types = list(summary["by_type"])
    header = ["metric", "all", *types]
    rows = []
    for metric, value in summary["overall"].items():
        rows.append([label(metric, config), fmt(metric, value),
                     *(fmt(metric, summary["by_type"][t].get(metric)) for t in types)])
    return header, rows


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _one_line(text: str | None, limit: int = 240) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown(result: dict, image: str | None = "report.png") -> str:
    config = result["config"]
    parts = ["# Evaluation report", ""]
    parts.append(_markdown_table(["setting", "value"], [[k, f"`{v}`"] for k, v in config.items()]))
    parts += ["", "## Summary", "", _markdown_table(*summary_table(result))]
    if image:
        parts += ["", f"![accuracy, evidence hit and latency]({image})"]
    wrong = [it for it in result["items"] if it["scores"].get("correct") is False]
    if wrong:
        parts += ["", f"## Wrong answers ({len(wrong)})", ""]
        for it in wrong:
            parts.append(f"- **{it['id']}** ({it['type']}) {_one_line(it['question'])}  \n"
                         f"  expected: {_one_line(it.get('reference'))}  \n"
                         f"  got: {_one_line(it['prediction'].get('answer'))}")
    missed = [it for it in result["items"] if it["scores"].get("evidence_hit") is False]
    if missed:
        parts += ["", f"## Evidence not in the top {config.get('k')} passages ({len(missed)})", ""]
        parts += [f"- **{it['id']}** ({it['type']}) {_one_line(it['question'])}" for it in missed]
    return "\n".join(parts) + "\n"


def plot(result: dict, path: Path) -> None:
    """Accuracy and retrieval hit rate by type (grouped bars) and the answer latency histogram."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    summary, config = result["summary"], result["config"]
    groups = {"all": summary["overall"], **summary["by_type"]}
    bars = [m for m in ("direct_accuracy", "accuracy", "evidence_hit", "answer_in_passages") if m in summary["overall"]]
    stage = "total" if any("total" in it["timings_ms"] for it in result["items"]) else "retrieval"
    times = [it["timings_ms"][stage] for it in result["items"] if stage in it["timings_ms"]]

    from assistant.evaluation import calibration

    curve = bool(calibration.curve(result))
    fig, axes = plt.subplots(1, 3 if curve else 2, figsize=(16 if curve else 12, 4.5),
                             gridspec_kw={"width_ratios": [3, 2, 2] if curve else [3, 2]})
    left, right = axes[0], axes[1]
    if curve:
        calibration.plot(result, axes[2], config.get("decision_threshold"))
    width = 0.8 / max(1, len(bars))
    for i, metric in enumerate(bars):
        values = [groups[g].get(metric) for g in groups]
        xs = [x + (i - (len(bars) - 1) / 2) * width for x in range(len(groups))]
        left.bar(xs, [v if v is not None else 0 for v in values], width, label=label(metric, config))
    left.set_xticks(range(len(groups)), [f"{g}\n(n={groups[g]['n']})" for g in groups], fontsize=8)
    left.set_ylim(0, 1.05)
    left.set_title("by question type")
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(bars), frameon=False)
    right.hist(times, bins=min(30, max(5, len(times) // 3)), color="tab:gray")
    right.set_xlabel(f"{'answer' if stage == 'total' else 'retrieval'} time (ms)")
    right.set_ylabel("questions")
    right.yaxis.get_major_locator().set_params(integer=True)
    right.set_title("latency")
    fig.suptitle(f"{config.get('dataset')} — llm {config.get('llm') or 'none'}, {config.get('retrieval')}, k={config.get('k')}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(result: dict, folder: Path) -> tuple[Path, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md, png = folder / "report.md", folder / "report.png"
    plot(result, png)
    md.write_text(markdown(result, png.name), encoding="utf-8")
    return md, png
