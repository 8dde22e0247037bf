"""MkDocs hook: the parts of the manual that come from the code and the plugins, at build time.

- ``<!-- include: plugins/NAME/README.md -->`` on a line of its own: the plugin's README, the
  single source of its task page. Its relative links are made to work from the page: files
  under ``plugins/NAME/docs/`` are published beside the page, a link to the root README goes
  to the manual's home page; any other link is left alone, so ``mkdocs build --strict`` fails
  on it instead of publishing a broken link.
- ``<!-- config-options: NAME -->``: a table of every option of task NAME's config dataclass
  (name, type, default, help), read from the plugin's source: the config module imports only
  the standard library and ``mltasks``, so the plugins need not be installed.
  ``<!-- config-options: TaskConfig -->`` gives the options every task has.
- ``<!-- kit-checks -->``: the conformance kit's checks, in the order they run, with their docstrings.

Used from ``mkdocs.yml`` (``hooks:``); the tests in ``tests/docs`` build the site.
"""

from __future__ import annotations

import importlib
import inspect
import posixpath
import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
_INCLUDE = re.compile(r"^<!-- include: (plugins/([a-z0-9_-]+)/README\.md) -->[ \t]*$", re.M)
_OPTIONS = re.compile(r"^<!-- config-options: ([A-Za-z0-9_-]+) -->[ \t]*$", re.M)
_CHECKS = re.compile(r"^<!-- kit-checks -->[ \t]*$", re.M)
_LINK = re.compile(r"(\]\(|^\[[^\]]+\]:\s*)(?!https?://|mailto:|#|/)([^)\s]+)", re.M)
_FENCE = re.compile(r"^(```|~~~)")


def on_files(files: Files, config: Any) -> Files:
    """Publish each plugin's ``docs/`` folder (the README's pictures) as ``tasks/NAME/docs/``."""
    for folder in sorted(PLUGINS.glob("*/docs")):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            uri = f"tasks/{folder.parent.name}/{path.relative_to(folder.parent).as_posix()}"
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Expand this hook's directives in a page's Markdown."""
    page_dir = posixpath.dirname(page.file.src_uri)
    markdown = _INCLUDE.sub(lambda m: plugin_readme(m.group(2), page_dir), markdown)
    markdown = _OPTIONS.sub(lambda m: options_table(m.group(1)), markdown)
    return _CHECKS.sub(lambda m: checks_table(), markdown)


def plugin_readme(name: str, page_dir: str) -> str:
    """``plugins/NAME/README.md`` with its links rewritten for a page in ``page_dir``."""
    path = PLUGINS / name / "README.md"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such plugin README to include")
    out, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
        out.append(line if fenced else _LINK.sub(lambda m: m.group(1) + _link(name, m.group(2), page_dir), line))
    return "\n".join(out) + "\n"


def _link(plugin: str, target: str, page_dir: str) -> str:
    path, _, anchor = target.partition("#")
    repo_path = posixpath.normpath(posixpath.join("plugins", plugin, path))
    if repo_path == "README.md":
        site_path = "index.md"
    elif repo_path.startswith(f"plugins/{plugin}/docs/"):
        site_path = "tasks/" + repo_path[len("plugins/"):]
    else:
        return target  # not published: mkdocs reports it
    return posixpath.relpath(site_path, page_dir or ".") + (f"#{anchor}" if anchor else "")


def _config_class(name: str) -> type:
    """The config class of task ``name`` (or ``TaskConfig``), imported from the plugin's source."""
    if name == "TaskConfig":
        from mltasks import TaskConfig

        return TaskConfig
    source = str(PLUGINS / name)
    if source not in sys.path:
        sys.path.insert(0, source)
    package = importlib.import_module(f"mltasks_{name}")  # the hook implementation only: import-light
    specs: list[Any] = []
    package.register_tasks(register=specs.append)
    spec = next((s for s in specs if s.name == name), None)
    if spec is None:
        raise LookupError(f"plugins/{name}: register_tasks registers no task named {name!r}")
    module, _, attr = spec.config.partition(":")
    return getattr(importlib.import_module(module), attr)


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _cell(text: str) -> str:
    """One table cell of reST-flavoured docstring text."""
    text = _ROLE.sub(r"`\1`", " ".join(str(text).split())).replace("``", "`")
    return text.replace("|", "\\|")


def options_table(name: str) -> str:
    """A Markdown table of the options of ``name``'s config (``TaskConfig``'s own rows only once)."""
    from mltasks import TaskConfig
    from mltasks.config import options

    cls = _config_class(name)
    common = set() if cls is TaskConfig else {o.name for o in options(TaskConfig)}
    rows = ["| option | type | default | help |", "|---|---|---|---|"]
    for opt in options(cls):
        if opt.name in common:
            continue
        kind = " \\| ".join(f"`{c}`" for c in opt.choices) if opt.choices else f"`{opt.type}`"
        rows.append(f"| `{opt.name}` | {kind} | `{opt.default!r}` | {_cell(opt.help)} |")
    note = "" if cls is TaskConfig else (
        f"\n*Generated from `{cls.__module__}.{cls.__name__}` when this site was built; "
        "the options every task has are in [Config keys](../reference/config.md#every-task).*\n")
    return "\n".join(rows) + "\n" + note


def checks_table() -> str:
    """The kit's checks, in the order ``parametrize_with_checks`` runs them, with their docstrings."""
    import mltasks.testing  # noqa: F401 - its modules register their checks
    from mltasks.testing.checks import ALL_CHECKS

    rows = ["| check | what must hold |", "|---|---|"]
    for check in ALL_CHECKS:
        rows.append(f"| `{check.__name__}` | {_cell(inspect.getdoc(check) or '')} |")
    return "\n".join(rows) + "\n"
