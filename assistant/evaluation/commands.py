"""`assistant eval`: score a QA set or RealTime QA through the `ask` code path; compare two saved runs.

    assistant eval DATASET [--llm NAME] [-k N] [--json OUT] [--limit N] [--report DIR] [--index DIR]
                           [--retrieval hybrid|dense|bm25] [--retrieval-only] [--judge NAME]
    assistant eval realtimeqa PATH [--weeks 20230106,20230113] [same options]
    assistant eval --compare A.json B.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from assistant.console import err, out, say, user_errors
from assistant.errors import ConfigError
from assistant.evaluation.report import fmt, label, summary_table, write_report  # matplotlib loads lazily

CACHE = Path("eval/cache/completions.jsonl")  # committed: later runs replay what the model already said


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """--set NAME=VALUE pairs, each VALUE JSON (a bare word is taken as a string)."""
    import json

    from assistant.settings import Settings

    parsed: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in Settings.model_fields:
            raise ConfigError(f"--set {pair!r}: give NAME=VALUE with NAME a setting (see assistant.toml's keys)")
        try:
            parsed[name] = json.loads(value)
        except json.JSONDecodeError:
            parsed[name] = value
    return parsed


class ProgressBar:
    """The runners' progress callback: a rich bar on stderr, started when the first question is asked
    (indexing before it prints its own progress), with the running accuracy and the time left, from
    the pace of the last ten minutes (an answer can take longer than rich's default 30 s window)."""

    def __init__(self, console=err, clock=None) -> None:
        self.progress: Any = None
        self.task: Any = None
        self.correct = 0
        self.console, self.clock = console, clock

    def __call__(self, done: int, total: int, item: dict | None) -> None:
        if self.progress is None:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                     console=self.console, transient=True, speed_estimate_period=600,
                                     **({"get_time": self.clock} if self.clock else {}))
            self.progress.start()
            self.task = self.progress.add_task("asking", total=total)
        if item is None:
            return
        self.correct += bool(item["scores"].get("correct"))
        scored = "correct" in item["scores"]
        description = f"{item['id']}  correct {self.correct}/{done}" if scored else item["id"]
        self.progress.update(self.task, completed=done, description=description)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def fit_decision(out_path: Path, runs: list, names: list[str]) -> None:
    from assistant.evaluation import calibration

    if not runs:
        raise ConfigError("--calibrate needs a run: a DATASET to run, or saved runs with --from RUN.json")
    fitted = calibration.fit_runs(runs, names)
    calibration.write(fitted, out_path)
    say(f"wrote {out_path}: answer at p >= {fitted.threshold:.3f} ({fitted.about}); use it with "
        f"decision_model = \"{out_path}\" in assistant.toml")


def print_summary(result: dict) -> None:
    config = result["config"]
    header, rows = summary_table(result)
    title = (f"{config['dataset']} — llm {config['llm'] or 'none (retrieval only)'}, {config['retrieval']}, "
             f"k={config['k']}, {config['items']} items")
    table = Table(*header, title=escape(title))
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    out.print(table)


def print_comparison(diff: dict, a: Path, b: Path, config: dict) -> None:
    for key, (va, vb) in diff["config"].items():
        out.print(f"[dim]{escape(key)}: {escape(str(va))} → {escape(str(vb))}[/dim]")
    table = Table("group", "metric", f"A ({escape(a.name)})", f"B ({escape(b.name)})", "B − A",
                  title="summary (types: changed metrics only)")
    for row in diff["metrics"]:
        if row["group"] != "overall" and row["a"] == row["b"]:
            continue
        delta = row["delta"]
        shown = "" if not delta else fmt(row["metric"], delta)
        colour = "green" if delta and delta > 0 else "red" if delta and delta < 0 else "default"
        if row["metric"].endswith(("_ms_p50", "_ms_p95", "false_refusal_rate")):  # lower is better
            colour = {"green": "red", "red": "green"}.get(colour, colour)
        table.add_row(row["group"], label(row["metric"], config),
                      fmt(row["metric"], row["a"]), fmt(row["metric"], row["b"]),
                      f"[{colour}]{'+' if delta and delta > 0 else ''}{shown}[/{colour}]")
    out.print(table)
    if diff["items"]:
        items = Table("id", "type", "changed (A → B)", "question", title=f"{len(diff['items'])} items changed")
        for it in diff["items"]:
            changes = ", ".join(f"{k} {fmt(k, va)} → {fmt(k, vb)}" for k, (va, vb) in it["changes"].items())
            items.add_row(escape(it["id"]), it["type"], escape(changes), escape(it["question"][:80]))
        out.print(items)
    else:
        out.print("No item changed correctness or evidence hit.")
    for side, ids in (("A", diff["only_in_a"]), ("B", diff["only_in_b"])):
        if ids:
            out.print(f"[yellow]only in {side}: {escape(', '.join(ids))}[/yellow]")


def eval_command(
    dataset: Annotated[Optional[str], typer.Argument(
        help="QA set (.jsonl, format in eval/README.md), or 'realtimeqa' followed by the benchmark folder")] = None,
    path: Annotated[Optional[Path], typer.Argument(help="With realtimeqa: the RealTime QA folder")] = None,
    llm: Annotated[Optional[str], typer.Option("--llm", help="Backend: local, openai, extractive, or a plugin's name")] = None,
    k: Annotated[Optional[int], typer.Option("-k", "--top-k", help="Passages given to the model", min=1, max=50)] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write config, summary and every item here")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Only the first N questions", min=1)] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write report.md and report.png into this folder")] = None,
    index: Annotated[Optional[Path], typer.Option("--index", help="Index folder (default: ./index; realtimeqa: its work folder)")] = None,
    retrieval: Annotated[Optional[str], typer.Option("--retrieval", help="hybrid, dense or bm25")] = None,
    retrieval_only: Annotated[bool, typer.Option("--retrieval-only", help="Retrieval metrics only: no language model")] = False,
    weeks: Annotated[Optional[str], typer.Option("--weeks", help="realtimeqa: comma-separated weeks (YYYYMMDD) (default: the first)")] = None,
    work_dir: Annotated[Optional[Path], typer.Option("--work-dir", help="realtimeqa: corpus and index folder (default: eval/runs/realtimeqa-<weeks hash>)")] = None,
    compare: Annotated[Optional[tuple[Path, Path]], typer.Option("--compare", metavar="A.json B.json", help="Compare two runs saved with --json")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="Only articles dated on or after YYYY-MM-DD")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Only articles dated on or before YYYY-MM-DD")] = None,
    source: Annotated[Optional[list[str]], typer.Option("--source", help="Only articles whose site, URL or id contains this (repeatable)")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="Only the items of this split (dev or test); realtimeqa: the weeks of that split")] = None,
    strategy: Annotated[Optional[str], typer.Option("--strategy", help="select, free or extractive (default: the backend's own)")] = None,
    judge: Annotated[Optional[str], typer.Option("--judge", help="Also ask this LLM backend (local, openai, ...) whether each answer is supported by its cited passages and agrees with the reference")] = None,
    cache: Annotated[Optional[Path], typer.Option("--cache", help="Completion cache: the model's replies to prompts it was given before are reused")] = CACHE,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask the model every time; keep no replies")] = False,
    replay: Annotated[bool, typer.Option("--replay", help="Load no model: replies from the cache only (a prompt it lacks gets an empty reply, counted)")] = False,
    calibrate: Annotated[Optional[Path], typer.Option("--calibrate", metavar="OUT.json", help="Fit the decision to answer on this run (and --from runs) and write it here; use it with decision_model")] = None,
    from_: Annotated[Optional[list[Path]], typer.Option("--from", metavar="RUN.json", help="With --calibrate: saved runs (--json) to fit on too, e.g. the other domain's dev split (repeatable)")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", metavar="NAME=VALUE", help="Any setting, VALUE as JSON (repeatable): --set select_best_margin=0")] = None,
) -> None:
    """Score answers and retrieval on a QA set or RealTime QA, through the same code path as ask."""
    with user_errors():
        from assistant.evaluation import runner

        if compare:
            if dataset:
                raise ConfigError("give either a DATASET or --compare A.json B.json, not both")
            a, b = compare
            run_a, run_b = runner.load_result(a), runner.load_result(b)
            print_comparison(runner.compare(run_a, run_b), a, b, run_a["config"])
            return
        if from_ and not calibrate:
            raise ConfigError("--from gives runs to fit the decision on: use it with --calibrate OUT.json")
        if calibrate and not dataset:  # fit on saved runs alone
            fit_decision(calibrate, [runner.load_result(path) for path in from_ or []], [str(p) for p in from_ or []])
            return
        if not dataset:
            raise ConfigError("give a QA set (e.g. eval/rare_earths_qa.jsonl), 'realtimeqa PATH', or --compare A.json B.json")
        from assistant.settings import Settings

        if replay and no_cache:
            raise ConfigError("--replay reads the completion cache; not with --no-cache")
        overrides: dict[str, Any] = {"index_dir": index, "llm": llm, "k": k, "retrieval": retrieval, "strategy": strategy,
                                     "completion_cache": None if no_cache else cache, "completion_replay": replay or None}
        overrides.update(parse_sets(set_ or []))
        settings = Settings(**{key: v for key, v in overrides.items() if v is not None})
        from assistant.retrieval import Filters

        filters = Filters.parse(since, until, source)
        if judge and (retrieval_only or dataset == "realtimeqa"):
            raise ConfigError("--judge needs answers to a QA set; not with --retrieval-only or realtimeqa")
        bar = ProgressBar()
        try:
            if dataset == "realtimeqa":
                if path is None:
                    raise ConfigError("give the RealTime QA folder: assistant eval realtimeqa PATH")
                from assistant.evaluation.realtimeqa import run_realtimeqa

                result = run_realtimeqa(path, settings, weeks=weeks, split=split, limit=limit, retrieval_only=retrieval_only,
                                        work_dir=work_dir, index_dir=index, progress=bar, say=say)
            else:
                if path is not None:
                    raise ConfigError(f"unexpected argument {path}; only realtimeqa takes a folder")
                if weeks or work_dir:
                    raise ConfigError("--weeks and --work-dir are for: assistant eval realtimeqa PATH")
                from assistant.evaluation.dataset import load_dataset
                from assistant.indexing import ensure_index

                load_dataset(Path(dataset), split)  # a bad file fails before any indexing
                ensure_index(settings, progress=say)  # as `ask` does: the bundled articles when there is no index
                result = runner.run_eval(Path(dataset), settings, limit=limit, retrieval_only=retrieval_only,
                                         progress=bar, warn=say, judge=judge, filters=filters, split=split)
        finally:
            bar.stop()
        if replay and result["config"].get("completion_misses"):
            say(f"[yellow]{result['config']['completion_misses']} prompt(s) were not in the cache and got an empty "
                "reply: those answers are not the model's[/yellow]")
        if json_out:
            runner.save_result(result, json_out)
            say(f"wrote {json_out}")
        if calibrate:
            fit_decision(calibrate, [result, *(runner.load_result(path) for path in from_ or [])],
                         [f"{dataset} {split or ''}".strip(), *(str(p) for p in from_ or [])])
        if report:
            md, png = write_report(result, report)
            say(f"wrote {md} and {png}")
    print_summary(result)
