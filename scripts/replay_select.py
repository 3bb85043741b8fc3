"""Re-decide a saved evidence-first run without the model: each question gets the model's own
saved JSON (sentence numbers and short answer) and verdict (p_verified) again, and everything after the model (attribution,
refusals, support, differing sources, scoring) runs as it does now. For choosing rules on the dev
split in seconds instead of a 20-minute run; the numbers it prints are dev numbers.

    python scripts/replay_select.py eval/runs/qa-dev-select.json [--split dev] [--json OUT]
    python scripts/replay_select.py eval/runs/rtqa-test-local.json   # a RealTime QA run: its weeks and index
    python scripts/replay_select.py eval/runs/qa-dev-verify.json --set verify_answers=true --set verify_min_p_yes=0.5
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from assistant import strategies
from assistant.evaluation import runner
from assistant.llms import registry
from assistant.llms.base import Completion
from assistant.llms.scripted import ScriptedLLM
from assistant.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--json")
    parser.add_argument("--set", action="append", default=[], help="setting=value (JSON value)")
    args = parser.parse_args()
    saved = json.loads(Path(args.run).read_text())
    selections = {it["question"]: it["prediction"]["selection"] for it in saved["items"]
                  if it["prediction"].get("selection")}

    def reply(request):  # the saved choice, and the saved verdict when the run asked for one
        chosen = selections.get(request.question, {})
        if request.schema == strategies.VERDICT_SCHEMA:
            p = chosen.get("p_verified")
            if p is None:
                return Completion('{"verdict": "yes"}')
            p = min(max(p, 1e-9), 1 - 1e-9)
            return Completion('{"verdict": "yes"}', steps=(("yes", {"yes": math.log(p), "no": math.log(1 - p)}),))
        return json.dumps({"evidence": chosen.get("evidence", []), "answer": chosen.get("answer", "")})

    registry.register("replay", lambda s: ScriptedLLM(reply, name="replay"))
    overrides = {k: json.loads(v) for k, v in (x.split("=", 1) for x in args.set)}
    settings = Settings(llm="replay", strategy="select", **overrides)
    dataset = saved["config"]["dataset"]
    if dataset.startswith("realtimeqa:"):  # the same weeks, pooled articles and index as the saved run
        from assistant.evaluation import realtimeqa

        result = realtimeqa.run_realtimeqa(Path(dataset.split(":", 1)[1]), settings,
                                           weeks=",".join(saved["config"]["weeks"]),
                                           work_dir=Path(saved["config"]["work_dir"]), limit=len(saved["items"]))
    else:  # the same items: a run made with --limit N holds the first N
        result = runner.run_eval(Path(dataset), settings, split=args.split, limit=len(saved["items"]))
    if args.json:
        runner.save_result(result, Path(args.json))
    s = result["summary"]
    o = s["overall"]
    print({k: round(o[k], 3) for k in ("accuracy", "direct_accuracy", "refusal_recall", "false_refusal_rate", "claim_support",
                                       "conflict_both_sourced", "citation_precision", "answer_words_median")
           if o.get(k) is not None})
    print({t: f"{round(d['accuracy'] * d['n'])}/{d['n']}" for t, d in s["by_type"].items()})


if __name__ == "__main__":
    main()
