"""`qdbot eval` in LLM mode against a loopback OpenAI-compatible fake (no network, no real model).

    python -m tests.bench.eval_llm QUESTIONS.jsonl [--data-dir DIR] [--json]

The fake stands in for a faithful model: it answers with the sentence of the given sources that
shares most character pairs with the question (ties: the earlier source) and cites that source,
or NO_ANSWER when no sentence shares any. Everything else is the real LLM path: the prompt built
from prompts/, the OpenAI SDK and langchain over HTTP, streaming, [n] citation parsing, the
invented-figure guard, and the region line. Run it on the data dir of an ingested library, e.g.
QDBOT_DATA_DIR=/tmp/devcorpus after `qdbot ingest ../shared/eval/corpus/docs`.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

SOURCE = re.compile(r"\[(\d+)\] 《[^》]*》[^\n]*\n(.*?)(?=\n\n\[\d+\] 《|\n\n用户问题|\n\nQuestion|\Z)", re.S)
QUESTION = re.compile(r"(?:用户问题|Question)[:：]\s*(.*)\Z", re.S)


def _pairs(text: str) -> set[str]:
    plain = re.sub(r"\W", "", text.lower())
    return {plain[i:i + 2] for i in range(len(plain) - 1)}


def faithful_responder(messages: list[dict], body: dict) -> str:
    content = str(messages[-1].get("content", "")) if messages else ""
    asked = QUESTION.search(content)
    if not asked or "参考资料" not in content and "Sources" not in content:
        return content[-200:]  # rewrite / classify prompts: echo the question
    wanted = _pairs(asked.group(1))
    best = (0, "", "")
    for number, text in SOURCE.findall(content):
        for sentence in re.split(r"(?<=[。；！？])", text):
            score = len(_pairs(sentence) & wanted)
            if score > best[0]:
                best = (score, number, sentence.strip())
    if not best[0]:
        return "NO_ANSWER"
    return f"{best[2].rstrip('。；')}[{best[1]}]。"


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("questions", type=Path)
    p.add_argument("--data-dir", type=Path, default=None, help="default: QDBOT_DATA_DIR")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    async with FakeOpenAI(api_key="sk-eval") as fake:
        fake.responder = faithful_responder
        env = {**os.environ, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-eval",
               "LLM_CLASSIFY_INTENT": "false"}
        if args.data_dir:
            env["QDBOT_DATA_DIR"] = str(args.data_dir)
        cmd = [sys.executable, "-m", "bot", "eval", str(args.questions)] + (["--json"] if args.json else [])
        proc = await asyncio.create_subprocess_exec(*cmd, env=env)
        code = await proc.wait()
        print(f"model requests: {len(fake.requests)}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
