"""The `qdbot` command line, run as a newcomer would run it (subprocesses on a seeded data dir)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import SHARED

QDBOT = [sys.executable, "-m", "bot"]


def run(args: list[str], env: dict, cwd: Path, stdin: str | None = None, timeout: int = 240):
    return subprocess.run(QDBOT + args, env=env, cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def test_ask_json_prints_the_documented_fields_with_a_cited_answer(cli_env, tmp_path):
    res = run(["ask", "--json", "青岛计划建设多少家概念验证平台？"], cli_env, tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert set(data) == {"question", "answer", "mode", "sources", "handoff", "no_answer", "latency_ms"}
    assert data["mode"] == "extractive" and not data["handoff"] and not data["no_answer"]
    assert "60家" in data["answer"] and any("60家" in s["text"] for s in data["sources"])
    assert set(data["sources"][0]) == {"title", "section", "source", "text", "score", "region"}


def test_ask_json_without_a_question_answers_each_stdin_line(cli_env, tmp_path):
    res = run(["ask", "--json"], cli_env, tmp_path, stdin="转人工\n\n今天青岛天气怎么样？\n")
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(d["handoff"], d["no_answer"]) for d in lines] == [(True, False), (False, True)]


def test_eval_passes_every_shared_question_in_extractive_mode(cli_env, tmp_path):
    res = run(["eval", str(SHARED / "eval" / "qa.jsonl"), "--min", "1.0"], cli_env, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "overall" in res.stdout and "100%" in res.stdout and "hit@1" in res.stdout


def test_eval_exits_non_zero_below_the_minimum(cli_env, tmp_path):
    f = tmp_path / "hard.jsonl"
    f.write_text(json.dumps({"id": "x", "question": "青岛计划建设多少家概念验证平台？", "kind": "fact",
                             "lang": "zh", "expect": [["不存在的数字"]]}, ensure_ascii=False) + "\n")
    res = run(["eval", str(f), "--min", "0.5"], cli_env, tmp_path)
    assert res.returncode == 1 and "FAIL x" in res.stdout


def test_ingest_reports_added_unchanged_and_removed_documents(cli_env, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("一、总则\n青岛市设立海洋创新券，每家企业每年最高50万元。", encoding="utf-8")
    (docs / "b.md").write_text("# 说明\n\n测试文件。", encoding="utf-8")
    first = run(["ingest", "--quiet", str(docs)], cli_env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2 added" in first.stdout
    (docs / "b.md").unlink()
    second = run(["ingest", "--quiet", "--prune", str(docs)], cli_env, tmp_path)
    assert "1 unchanged" in second.stdout and "1 removed" in second.stdout
    ask = run(["ask", "--json", "海洋创新券每家企业最高多少钱？"], cli_env, tmp_path)
    assert "50万元" in json.loads(ask.stdout)["answer"]


def test_chat_keeps_a_multi_turn_session_and_exits_on_end_of_input(cli_env, tmp_path):
    res = run(["chat"], cli_env, tmp_path, stdin="青岛计划建设多少家概念验证平台？\n/new\n")
    assert res.returncode == 0, res.stderr
    assert "60家" in res.stdout and "重新开始" in res.stdout


def test_a_broken_setting_is_reported_in_one_line_without_a_traceback(cli_env, tmp_path):
    env = {**cli_env, "RETRIEVAL_TOP_K": "many"}
    res = run(["ask", "hi"], env, tmp_path)
    assert res.returncode == 2 and "qdbot: invalid settings" in res.stderr and "Traceback" not in res.stderr


LOOKALIKES = ["qingdao_vocational_education_regulation_2015.txt",
              "ningbo_vocational_education_school_enterprise_cooperation_regulation_2020.txt",
              "chongqing_professional_technical_personnel_continuing_education_regulation_2010.txt",
              "qingdao_price_regulation_2018.txt", "zhejiang_price_regulation_2013.txt",
              "qingdao_building_energy_saving_regulation_2022.txt", "shandong_building_energy_saving_regulation_2020.txt"]


def test_eval_on_real_lookalike_regulations_cites_each_questions_own_city(cli_env, tmp_path):
    """Seven real regulations of four places stating similar rules with different figures: every
    development question about them is answered from, and cites, its own place's document."""
    corpus = SHARED / "eval" / "corpus"
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in LOOKALIKES:
        (docs / name).write_bytes((corpus / "docs" / name).read_bytes())
    items = [line for line in (corpus / "questions.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line).get("doc") in LOOKALIKES]
    questions = tmp_path / "lookalikes.jsonl"
    questions.write_text("\n".join(items) + "\n", encoding="utf-8")
    env = {**cli_env, "QDBOT_DATA_DIR": str(tmp_path / "data")}
    ingest = run(["ingest", "--quiet", "--verbose", str(docs)], env, tmp_path, timeout=600)
    assert ingest.returncode == 0 and "7 added" in ingest.stdout, ingest.stderr
    assert "地区 宁波市" in ingest.stdout and "地区 山东省" in ingest.stdout
    res = run(["eval", str(questions), "--json"], env, tmp_path)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == len(items) >= 10
    wrong = [(r["id"], r["cited"]) for r in rows if not r["doc_ok"]]
    assert len(wrong) <= len(rows) // 10, wrong  # at least 90% cite their own document


def test_admin_create_manager_explains_the_roster_step_or_adds_the_entry_with_manager_name(cli_env, tmp_path):
    refused = run(["admin", "create", "--username", "zhang", "--role", "manager", "--manager-id", "zhang",
                   "--password-stdin"], cli_env, tmp_path, stdin="Str0ng-passw0rd!\n")
    assert refused.returncode == 2 and "HANDOFF_ROSTER_FILE" in refused.stderr and "--manager-name" in refused.stderr
    made = run(["admin", "create", "--username", "zhang", "--role", "manager", "--manager-id", "zhang",
                "--manager-name", "张工", "--working-hours", "mon-fri 09:00-17:30", "--password-stdin"],
               cli_env, tmp_path, stdin="Str0ng-passw0rd!\n")
    assert made.returncode == 0, made.stderr
    assert "roster entry zhang (张工) saved" in made.stdout and "created manager zhang" in made.stdout
    listed = run(["admin", "list"], cli_env, tmp_path)
    assert "zhang\tmanager\tzhang\tactive" in listed.stdout


def test_chat_prints_no_log_lines_and_offers_the_handoff_in_words(cli_env, tmp_path):
    res = run(["chat"], cli_env, tmp_path, stdin="深圳的人工智能企业补贴标准是多少？\n你好\n")
    assert res.returncode == 0, res.stderr
    assert "输入“转人工”或 /human" in res.stdout and "点击" not in res.stdout
    assert "可以这样问" in res.stdout  # the greeting's examples
    assert "message" not in res.stderr and "[info" not in res.stderr


async def test_the_first_start_says_it_ingests_the_bundled_documents_and_prints_no_library_debug_lines(tmp_path):
    import asyncio
    import os

    from tests.conftest import _clean_env
    from tests.test_process_faults import free_port, start_server

    env = _clean_env(dict(os.environ), tmp_path / "fresh")
    port = free_port()
    proc = await start_server(env, port, tmp_path)
    proc.send_signal(2)
    await asyncio.wait_for(proc.wait(), 30)
    log = (tmp_path / f"serve-{port}.log").read_text(encoding="utf-8")
    assert re.search(r"ingesting bundled documents… \d+ chunks in \d+\.\d s", log), log
    assert "DEBUG" not in log and "bm25s" not in log
