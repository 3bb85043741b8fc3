"""Evaluation: QA sets and RealTime QA run through the same code path as `assistant ask`, scored.

    dataset.py     load and check a QA set (JSON lines)
    metrics.py     pure scoring functions and summaries
    runner.py      run a QA set; compare two runs
    realtimeqa.py  the RealTime QA benchmark: pool its articles, index them, run its questions
    report.py      report.md and report.png
    commands.py    the `assistant eval` command
"""
