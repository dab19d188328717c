"""`qdbot eval` in LLM mode against a loopback OpenAI-compatible fake (no network, no real model).

    python -m tests.bench.eval_llm QUESTIONS.jsonl [--data-dir DIR] [--json]

The fake stands in for a faithful model: it reads the numbered sources back out of the prompt and
quotes the sentences of them that best answer the question, each with its [n] (it picks them with
the extractive sentence selection, without embeddings), or NO_ANSWER when there are none.
Everything else is the real LLM path: the prompt built from prompts/, the OpenAI SDK and langchain
over HTTP, streaming, [n] citation parsing, the invented-figure guard, and the region line. So the
figures say whether retrieval, the gate and the LLM path put the right source in front of a model
that reads it faithfully; they do not measure a real model's wording. Run it on the data dir of an ingested library, e.g.
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

from bot.extractive import select_sentences  # noqa: E402
from bot.types import Passage  # noqa: E402
from knowledge.retriever import prepare_query  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

SOURCE = re.compile(r"\[(\d+)\] 《([^》]*)》[^\n]*\n(.*?)(?=\n\n\[\d+\] 《|\n\n用户问题|\n\nUser question|\Z)", re.S)
QUESTION = re.compile(r"(?:用户问题|User question)[:：]\s*(.*)\Z", re.S)


def faithful_responder(messages: list[dict], body: dict) -> str:
    content = str(messages[-1].get("content", "")) if messages else ""
    asked = QUESTION.search(content)
    if not asked or not ("参考资料" in content or "Reference passages" in content):
        return asked.group(1).strip() if asked else content[-200:]  # rewrite / classify prompts
    sources = [Passage(chunk_id=n, text=text.strip(), title=title, section="", source=n, doc_id=n, score=1.0)
               for n, title, text in SOURCE.findall(content)]
    question = asked.group(1).strip()
    lexical = prepare_query(question)
    chosen = select_sentences(question, sources, None, lexical)
    if not chosen:
        return "NO_ANSWER"
    return "\n".join(f"{c.sentence.rstrip('。；;')}[{sources[c.passage_index].chunk_id}]。" for c in chosen)


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
