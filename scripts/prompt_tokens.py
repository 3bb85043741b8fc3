"""What the select prompt costs in the local model's tokens, part by part, over a QA split, and how
many of its tokens llama.cpp can keep evaluated from the question before (the opening consecutive
prompts share). No model answers: the prompts are made by the real pipeline and only tokenized.

    python scripts/prompt_tokens.py                                   # QA dev split, the default prompt
    python scripts/prompt_tokens.py --prompt prompts/variants/select_instructions_first.txt
    python scripts/prompt_tokens.py --index DIR --split test --json out.json

A part's cost is the whole prompt's tokens less those of the prompt without it (headers "From:
title — date", the dates alone, the numbering "(n) "), or its own tokens (the chat template with the
system message, the instructions, the question). The numbers are token counts, not quality.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from assistant.evaluation.dataset import load_dataset
from assistant.llms import registry
from assistant.llms.scripted import ScriptedLLM
from assistant.model_files import qwen_gguf
from assistant.pipeline import Assistant
from assistant.settings import REPO_DIR, Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(REPO_DIR / "eval" / "rare_earths_qa.jsonl"))
    parser.add_argument("--split", default="dev")
    parser.add_argument("--prompt", default="select", help="the select template: a name in prompts/ or a .txt path")
    parser.add_argument("--index", default="index")
    parser.add_argument("--json")
    args = parser.parse_args()

    prompts: list[list[dict]] = []
    registry.register("capture", lambda s: ScriptedLLM(lambda r: prompts.append(r.messages) or '{"evidence": [], "answer": ""}',
                                                        name="capture"))
    bot = Assistant(Settings(llm="capture", strategy="select", select_prompt=args.prompt, index_dir=Path(args.index)))
    for item in load_dataset(Path(args.dataset), args.split):
        bot.ask(item.question)

    vocab = Llama(model_path=str(qwen_gguf()), vocab_only=True, verbose=False)
    template = vocab.metadata["tokenizer.chat_template"]
    render = Jinja2ChatFormatter(template=template, eos_token="<|im_end|>", bos_token="")

    def tokens(messages: list[dict]) -> list[int]:
        text = render(messages=messages).prompt + "<|im_start|>assistant\n"
        return vocab.tokenize(text.encode(), add_bos=False, special=True)

    def without(messages: list[dict], pattern: str, repl: str = "") -> int:
        user = re.sub(pattern, repl, messages[-1]["content"], flags=re.MULTILINE)
        return len(tokens([*messages[:-1], {**messages[-1], "content": user}]))

    rows, previous = [], None
    for messages in prompts:
        ids = tokens(messages)
        user = messages[-1]["content"]
        head, _, rest = user.partition("<<<\n")
        body, _, tail = rest.partition(">>>")
        question, _, instructions = tail.partition("\n\n" + tail.strip().split("\n\n")[-1]) if "Question:" in tail else (tail, "", "")
        shared = 0
        if previous is not None:
            for a, b in zip(previous, ids):
                if a != b:
                    break
                shared += 1
        rows.append({
            "prompt": len(ids),
            "system_and_template": len(ids) - len(vocab.tokenize(user.encode(), add_bos=False, special=True)),
            "headers": len(ids) - without(messages, r"^From: .*\n"),
            "header_lines": len(re.findall(r"^From: ", user, flags=re.MULTILINE)),
            "dates_in_headers": len(ids) - without(messages, r"^(From: .*?) — \d{4}-\d{2}-\d{2}$", r"\1"),
            "numbering": len(ids) - without(messages, r"^\(\d+\) "),
            "sentences_text": len(vocab.tokenize(re.sub(r"^(From: .*|\(\d+\) )", "", body, flags=re.MULTILINE).encode(), add_bos=False)),
            "question_line": len(vocab.tokenize(tail.split("\n\n")[1].encode(), add_bos=False)) if tail.count("\n\n") >= 1 else 0,
            "instructions": len(vocab.tokenize(tail.strip().split("\n\n")[-1].encode(), add_bos=False)),
            "before_sentences": len(vocab.tokenize(head.encode(), add_bos=False)),
            "shared_with_previous": shared,
        })
        previous = ids
    keys = [k for k in rows[0]]
    summary = {"prompts": len(rows), "template": args.prompt, "split": args.split,
               **{f"{k}_median": statistics.median(r[k] for r in rows) for k in keys},
               **{f"{k}_mean": round(statistics.mean(r[k] for r in rows), 1) for k in keys}}
    summary["shared_with_previous_median"] = statistics.median(r["shared_with_previous"] for r in rows[1:]) if len(rows) > 1 else 0
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
