"""The console reaches its data through `ConsolePorts` only, never through the store."""
from __future__ import annotations

import ast
import typing
from pathlib import Path

import adapters.console
from adapters.console.context import ConsoleContext
from bot.console_ports import ConsolePorts

CONSOLE = Path(adapters.console.__file__).parent


def test_no_console_module_reads_a_store_attribute_or_names_the_store():
    """No `x.store`, no `Store` and no `console_data` in any module of adapters/console."""
    found = []
    for path in sorted(CONSOLE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("store", "_store", "console_data"):
                found.append(f"{path.name}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.Name) and node.id == "Store":
                found.append(f"{path.name}:{node.lineno} Store")
    assert found == []


def test_the_console_context_types_every_member_and_its_data_is_the_console_ports():
    """`ConsoleContext.data` is `ConsolePorts`, and no member of the context is typed `Any`."""
    hints = typing.get_type_hints(ConsoleContext)
    assert hints["data"] is ConsolePorts
    assert "store" not in hints
    assert [name for name, hint in hints.items() if hint is typing.Any] == []
