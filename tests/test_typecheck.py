"""mypy (strict on bot/, knowledge/ and adapters/console/) and ruff, with the configuration in pyproject.toml, report nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mypy_passes():
    mypy = Path(sys.executable).parent / "mypy"
    res = subprocess.run([str(mypy)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_passes():
    ruff = Path(sys.executable).parent / "ruff"
    res = subprocess.run([str(ruff), "check", "bot", "knowledge", "adapters", "prompts", "tests"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
