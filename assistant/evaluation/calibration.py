"""`assistant eval --calibrate OUT.json`: the decision to answer (answer/decision.py) fitted on
eval runs of one backend, and the risk-coverage curve of a run.

Each item of an evidence-first run records the signals the decision read and the first line it
weighed; the eval scores that line as if it had been given (`line_correct`). Those pairs, pooled
over the runs given (the dev splits of both domains), fit a logistic model and the threshold that
maximises right decisions (an answer right, or a wrong one withheld)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assistant.answer import decision
from assistant.errors import InputError


def rows(run: dict) -> list[tuple[decision.Signals, bool, bool]]:
    """(signals, the first line was right, the articles answer the question) of each item the decision weighed."""
    out = []
    for item in run["items"]:
        signals = (item["prediction"].get("selection") or {}).get("signals")
        if signals and item["scores"].get("line_correct") is not None:
            answerable = item.get("answerable", item["type"] != "unanswerable")
            out.append((decision.Signals.from_record(signals),
                        bool(item["scores"]["line_correct"]), bool(answerable)))
    return out


def fit_runs(runs: Sequence[dict], names: Sequence[str]) -> decision.Calibrator:
    backends = {run["config"].get("llm") for run in runs}
    if len(backends) != 1 or None in backends:
        raise InputError(f"--calibrate needs answer runs of one backend; these are of {', '.join(map(str, backends))}")
    pooled = [row for run in runs for row in rows(run)]
    if len(pooled) < 20 or len({right for _, right, _ in pooled}) < 2:
        raise InputError(f"--calibrate needs at least 20 evidence-first answers, right and wrong; these runs have "
                         f"{len(pooled)} (run them with --strategy select)")
    about = f"{len(pooled)} answers of {', '.join(names)}"
    return decision.fit(pooled, llm=backends.pop(), about=about)


def write(calibrator: decision.Calibrator, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(calibrator.to_json(), encoding="utf-8")


def curve(run: dict) -> list[tuple[float, float, float]]:
    """The run's risk-coverage curve: (confidence, share answered, accuracy of those answered), each
    item answered when its confidence reaches that of the row."""
    pairs = [(item["prediction"]["confidence"], bool(item["scores"].get("line_correct")))
             for item in run["items"] if item["prediction"].get("confidence") is not None
             and item["scores"].get("line_correct") is not None]
    return decision.risk_coverage([p for p, _ in pairs], [r for _, r in pairs])


def plot(run: dict, ax, threshold: float | None = None) -> None:
    points = curve(run)
    if not points:
        ax.set_axis_off()
        return
    ax.plot([c for _, c, _ in points], [a for _, _, a in points], color="tab:blue")
    if threshold is not None:
        at = [(c, a) for p, c, a in points if p >= threshold]
        if at:
            ax.plot([at[-1][0]], [at[-1][1]], "o", color="tab:red", label=f"operating point (p ≥ {threshold:.2f})")
            ax.legend(fontsize=8, loc="lower left")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("share answered (coverage)")
    ax.set_ylabel("first lines right among answered")
    ax.set_title("risk-coverage")
