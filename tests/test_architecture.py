"""Architecture rules that are checked, not hoped for."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    """The core never imports knowledge or adapters (except the composition root); adapters stay apart."""
    lint = Path(sys.executable).parent / "lint-imports"
    res = subprocess.run([str(lint), str(REPO / "pyproject.toml")], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "BROKEN" not in res.stdout


def test_every_user_facing_sentence_exists_in_both_languages():
    import tomllib

    for name in {p.name for p in (REPO / "prompts").glob("*/*.toml")}:
        zh = tomllib.loads((REPO / "prompts" / "zh" / name).read_text(encoding="utf-8"))
        en = tomllib.loads((REPO / "prompts" / "en" / name).read_text(encoding="utf-8"))
        assert set(zh) == set(en), name
