"""The built manual: generated references complete, plugin READMEs included (not copied),
benchmark tables sourced, nothing fetched from outside. Needs the docs tools (``tox -e docs``)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import click
import pytest

import mltasks

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = ("text", "image", "speech", "rl", "recommender", "kaggle", "llm")
_HEADING = re.compile(r'<h([1-6])[^>]*\sid="([^"]+)"', re.S)


def _text(fragment: str) -> str:
    fragment = re.sub(r"<(script|style)\b.*?</\1>", " ", fragment, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text(encoding="utf-8")


def _sections(page: str) -> dict[str, str]:
    """Each heading id with the HTML up to the next heading."""
    marks = [(m.start(), m.group(2)) for m in _HEADING.finditer(page)] + [(len(page), "")]
    return {hid: page[start:end] for (start, hid), (end, _) in zip(marks, marks[1:])}


def _core_commands() -> dict[str, click.Command]:
    """``mltasks --help``'s commands that mltasks itself provides (a third-party plugin's commands
    are documented by that plugin)."""
    from mltasks.cli import cli

    ctx = click.Context(cli, info_name="mltasks")
    commands = {}
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        module = getattr(command.callback, "__module__", "") or ""
        if command is not None and not command.hidden and module.startswith("mltasks."):
            commands[name] = command
    return commands


def _options(command: click.Command) -> list[str]:
    ctx = click.Context(command)
    return [opt for p in command.get_params(ctx) if isinstance(p, click.Option) and not p.hidden
            for opt in (*p.opts, *p.secondary_opts)]


def test_the_builtin_commands_are_found() -> None:
    assert {"run", "evaluate", "predict", "list", "info", "plugins", "serve", "tune", "runs", "compare"} <= set(
        _core_commands())


def test_cli_reference_lists_every_command_and_option(site: Path) -> None:
    from mltasks.cli import cli

    sections = _sections(_page(site, "reference/cli"))
    missing = [opt for opt in _options(cli) if opt not in _text(sections["mltasks"])]
    for name, command in _core_commands().items():
        section = sections.get(f"mltasks-{name}")
        if section is None:
            missing.append(f"the command {name}")
            continue
        shown = _text(section)
        missing += [f"{name} {opt}" for opt in _options(command) if not re.search(rf"(?<![\w-]){opt}(?![\w-])", shown)]
    assert not missing, f"not in the CLI reference: {missing}"


@pytest.mark.parametrize("name", mltasks.__all__)
def test_public_name_has_its_api_reference(site: Path, name: str) -> None:
    assert f'id="mltasks.{name}"' in _page(site, "reference/api"), name


@pytest.mark.parametrize("hook", ["register_tasks", "register_commands"])
def test_hooks_have_their_api_reference(site: Path, hook: str) -> None:
    assert f'id="mltasks.hookspecs.{hook}"' in _page(site, "reference/api")


def test_kit_page_lists_every_check(site: Path) -> None:
    import mltasks.testing  # noqa: F401 - registers every check
    from mltasks.testing.checks import ALL_CHECKS

    page = _text(_page(site, "reference/kit"))
    assert [c.__name__ for c in ALL_CHECKS if c.__name__ not in page] == []


@pytest.mark.parametrize("task", BUILTIN)
def test_task_page_is_the_plugin_readme(site: Path, task: str) -> None:
    """The page includes plugins/NAME/README.md at build time: its text is there, the Markdown
    source holds no copy of it, and its pictures are published beside the page."""
    readme = (ROOT / "plugins" / task / "README.md").read_text(encoding="utf-8")
    source = (ROOT / "docs" / "tasks" / f"{task}.md").read_text(encoding="utf-8")
    assert f"<!-- include: plugins/{task}/README.md -->" in source
    assert len(source.splitlines()) < 20, "the task page is the README included, not a copy"
    page = _page(site, f"tasks/{task}")
    title = readme.splitlines()[0].lstrip("# ").replace("`", "").strip()
    assert "".join(title.split()) in "".join(_text(page).split())
    for picture in re.findall(r"!\[[^\]]*\]\((docs/[^)]+)\)", readme):
        assert (site / "tasks" / task / picture).is_file(), picture
    assert "config-options" not in page and "<table>" in page  # the options table was generated


def test_benchmark_tables_name_their_source(site: Path) -> None:
    results = sorted(p.name for p in (ROOT / "benchmarks" / "results").glob("*.json"))
    index = _text(_page(site, "benchmarks"))
    assert [name for name in results if name not in index] == []
    for page in ("benchmarks/quality", "benchmarks/speed"):
        text = _page(site, page)
        assert "```benchmark" not in text
        tables, sources = text.count("<table>"), text.count('class="mltasks-source"')
        assert tables and tables == sources, f"{page}: {tables} tables, {sources} source lines"


def test_benchmark_figures_are_the_json_values(site: Path) -> None:
    """Spot check: the text benchmark's accuracies appear as the JSON has them (4 significant digits)."""
    rows = json.loads((ROOT / "benchmarks" / "results" / "text.json").read_text())["rows"]
    page = _text(_page(site, "benchmarks/quality"))
    for row in rows:
        assert f"{row['model']} {row['accuracy']:.4g}" in page


def test_no_page_loads_anything_from_outside(site: Path) -> None:
    """Scripts, styles, fonts and images are the site's own files (the browser test checks it live)."""
    outside = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)
    found = [f"{p.relative_to(site)}: {m.group(0)}" for p in site.rglob("*.html")
             for m in outside.finditer(p.read_text(encoding="utf-8"))]
    assert not found, found[:10]
    assert not any("fonts.googleapis" in p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
