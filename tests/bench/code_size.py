"""Module and function sizes of the project's packages (a figure for architecture work, not a test).

    python -m tests.bench.code_size [ROOT]

Counts non-blank lines per module and lines per function (its first line to its last, decorators
excluded) for `bot`, `knowledge`, `adapters` and `prompts`, and prints count, median, p90 and max.
"""
from __future__ import annotations

import ast
import statistics
import sys
from pathlib import Path

PACKAGES = ("bot", "knowledge", "adapters", "prompts")


def _quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0


def sizes(root: Path) -> tuple[dict[str, int], list[tuple[str, int]]]:
    modules: dict[str, int] = {}
    functions: list[tuple[str, int]] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            name = str(path.relative_to(root))
            modules[name] = sum(1 for line in source.splitlines() if line.strip())
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    functions.append((f"{name}:{node.name}", (node.end_lineno or node.lineno) - node.lineno + 1))
    return modules, functions


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[2]
    modules, functions = sizes(root)
    m, f = list(modules.values()), [n for _, n in functions]
    print(f"modules   {len(m):5d}  lines median {statistics.median(m):5.0f}  p90 {_quantile(m, 0.9):5d}  max {max(m):5d}"
          f"  ({max(modules, key=modules.__getitem__)})")
    print(f"functions {len(f):5d}  lines median {statistics.median(f):5.0f}  p90 {_quantile(f, 0.9):5d}  max {max(f):5d}"
          f"  ({max(functions, key=lambda x: x[1])[0]})")
    for name, lines in sorted(modules.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  largest module {lines:5d}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
