"""Other quantization types of the packaged Qwen2.5-Coder-1.5B weights, timed against the Q4_K_M
that ships, and the CPU paths this llama.cpp build takes. The other types are made from the
Q4_K_M file by llama.cpp's own quantizer (re-quantizing: a Q8_0 made this way holds what the Q4_K_M
holds, a Q4_0 loses a little more); nothing is downloaded.

    python scripts/quant_bench.py                      # q4_k_m, q8_0, q4_0; 3 rounds, medians
    python scripts/quant_bench.py --types q4_k_m,q8_0 --rounds 5 --prompt-tokens 600 --out /tmp/q

Each round reads the same article's first N tokens from scratch (one more each round, so nothing
is reused) and then writes 30 tokens greedily, every type in turn, so a busy machine slows all of
them alike. Take the numbers on a quiet machine.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from pathlib import Path

import llama_cpp
from llama_cpp import Llama

from assistant.model_files import qwen_gguf
from assistant.settings import REPO_DIR

TYPES = {"q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0", "f16": "LLAMA_FTYPE_MOSTLY_F16"}
WRITE = 30


def quantized(source: Path, kind: str, out: Path) -> Path:
    """The Q4_K_M weights re-quantized to `kind` (made once, kept in `out`)."""
    if kind == "q4_k_m":
        return source
    path = out / f"{source.stem.rsplit('-', 1)[0]}-{kind}.gguf"
    if not path.is_file():
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, TYPES[kind])
        params.allow_requantize = True
        if llama_cpp.llama_model_quantize(str(source).encode(), str(path).encode(), ctypes.byref(params)) != 0:
            raise SystemExit(f"llama.cpp could not quantize {source} to {kind}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--types", default="q4_k_m,q8_0,q4_0")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/assistant-quant"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(llama_cpp.llama_print_system_info().decode().strip())
    source = qwen_gguf()
    text = sorted((REPO_DIR / "articles").glob("*.txt"))[0].read_text(encoding="utf-8")
    kinds = args.types.split(",")
    models = {k: Llama(model_path=str(quantized(source, k, args.out)), n_ctx=4096, n_threads=args.threads,
                       n_threads_batch=args.threads, verbose=False) for k in kinds}
    read: dict[str, list[float]] = {k: [] for k in kinds}
    write: dict[str, list[float]] = {k: [] for k in kinds}
    for n in range(args.rounds):
        for kind, model in models.items():
            tokens = model.tokenize(text.encode())[: args.prompt_tokens + n]
            model.reset()
            started = time.perf_counter()
            model.eval(tokens)
            middle = time.perf_counter()
            for _ in range(WRITE):
                model.eval([model.sample(temp=0.0)])
            read[kind].append(middle - started)
            write[kind].append(time.perf_counter() - middle)
    base = statistics.median(read[kinds[0]])
    for kind in kinds:
        r, w = statistics.median(read[kind]), statistics.median(write[kind])
        size = Path(models[kind].model_path).stat().st_size / 2**20
        print(f"{kind:7} {size:6.0f} MiB  read {args.prompt_tokens} tokens {r:5.2f} s ({args.prompt_tokens / r:4.0f}/s, "
              f"{base / r:.2f}x {kinds[0]})  write {WRITE} tokens {w:5.2f} s ({WRITE / w:4.1f}/s)")


if __name__ == "__main__":
    main()
