"""The core is pure: no venue imports, no I/O, no clock, no randomness, no asyncio."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = sorted((ROOT / "arb" / "core").glob("*.py"))
FORBIDDEN = {
    "venues",
    "asyncio",
    "socket",
    "time",
    "random",
    "os",
    "io",
    "pathlib",
    "subprocess",
    "aiohttp",
    "ccxt",
    "uvloop",
    "datetime",
    "sqlite3",
    "threading",
    "gzip",
    "builtins",
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_module_imports_nothing_impure(path):
    assert not imported_roots(path) & FORBIDDEN


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_module_calls_no_open_or_print(path):
    calls = {
        n.func.id
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert not calls & {"open", "print", "input"}


def test_venues_do_not_import_the_engine_shell():
    for path in (ROOT / "venues").rglob("*.py"):
        roots = {
            n.module
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.ImportFrom) and n.module
        }
        shell = {
            m
            for m in roots
            if m.startswith("arb.") and not m.startswith(("arb.core", "arb.ports", "arb.recording"))
        }
        assert not shell, f"{path.relative_to(ROOT)} imports {shell}"
