"""mypy, with the configuration in pyproject.toml (strict on bot/ and knowledge/), reports nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mypy_passes():
    mypy = Path(sys.executable).parent / "mypy"
    res = subprocess.run([str(mypy)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
