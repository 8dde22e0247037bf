"""Plugin boundaries: this package uses the text plugin only through ``mltasks_text.api``, the
module the text plugin keeps stable for other plugins; every other ``mltasks_text`` module is
internal to it and may change without notice."""

from __future__ import annotations

import ast
from pathlib import Path

import mltasks_llm

PUBLIC = "mltasks_text.api"
PACKAGE = Path(mltasks_llm.__file__).resolve().parent


def _text_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import of ``mltasks_text`` or a module under it, however spelled:
    ``import mltasks_text.x``, ``from mltasks_text.x import y``, ``from mltasks_text import x``
    (x may be a module), ``importlib.import_module("mltasks_text.x")`` / ``__import__``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "mltasks_text":  # names imported from the package may be its modules
                found += [(node.lineno, f"mltasks_text.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return [(line, module) for line, module in found if module.split(".")[0] == "mltasks_text"]


def test_the_package_imports_only_the_text_plugins_public_module() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10, f"found only {files} under {PACKAGE}"
    offending = [f"{path.relative_to(PACKAGE.parent)}:{line}: {module}"
                 for path in files
                 for line, module in _text_imports(ast.parse(path.read_text(encoding="utf-8"), str(path)))
                 if module != PUBLIC]
    assert not offending, f"import the text plugin's names from {PUBLIC} only:\n" + "\n".join(offending)


def test_the_check_sees_every_spelling() -> None:
    code = "\n".join(["import mltasks_text.data", "from mltasks_text.encoders import mean_pool",
                      "from mltasks_text import batching", "from mltasks_text.api import pad_batch",
                      "import importlib", "importlib.import_module('mltasks_text.tokenize')",
                      "from mltasks_llm import adapt"])
    assert sorted(m for _, m in _text_imports(ast.parse(code))) == [
        "mltasks_text.api", "mltasks_text.batching", "mltasks_text.data", "mltasks_text.encoders",
        "mltasks_text.tokenize"]
