"""Build the root README's generated parts from their one source.

- Between ``<!-- tasks:start -->`` and ``<!-- tasks:end -->``: each built-in plugin's own
  ``plugins/NAME/README.md``, headings moved two levels down and links made relative to the
  repository root.
- After a line ``<!-- include: PATH -->``: the fenced code block that follows is the file
  PATH, verbatim (the "Writing a plugin" snippets come from ``examples/mltasks-majority``).

Run ``python scripts/build_readme.py`` after editing a plugin README or the example; the
test suite runs ``--check``, which fails when README.md is not what this script would write.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The order of the task sections (the table at the top of the README uses the same).
PLUGINS = ("text", "image", "speech", "rl", "recommender", "kaggle", "llm")
_TITLE = re.compile(r"^# (mltasks-[a-z0-9-]+)\b")
_LINK = re.compile(r"\]\((?!https?://|#|/)([^)]+)\)")
_INCLUDE = re.compile(r"^<!-- include: (?P<path>\S+) -->\n```(?P<lang>\w*)\n.*?^```\n", re.M | re.S)
_FENCE = {".py": "python", ".toml": "toml", ".md": "markdown", ".ini": "ini"}


def task_section(name: str, root: Path = ROOT) -> str:
    """A plugin README as a section of the root README."""
    text = (root / "plugins" / name / "README.md").read_text(encoding="utf-8")
    lines = text.strip("\n").split("\n")
    match = _TITLE.match(lines[0])
    if not match:
        raise SystemExit(f"plugins/{name}/README.md: the first line must be '# mltasks-{name} ...'")
    out = [f"### `{name}` — `{match.group(1)}`"]
    fenced = False
    for line in lines[1:]:
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("#"):
            line = "##" + line  # '## Data' -> '#### Data'
        out.append(_LINK.sub(lambda m: f"]({posixpath.normpath(f'plugins/{name}/{m.group(1)}')})", line))
    return "\n".join(out) + "\n"


def _between(text: str, start: str, end: str, body: str) -> str:
    head, sep, rest = text.partition(start)
    _, sep2, tail = rest.partition(end)
    if not sep or not sep2:
        raise SystemExit(f"README.md: markers {start} ... {end} not found")
    return f"{head}{start}\n{body}{end}{tail}"


def _include(match: re.Match[str], root: Path) -> str:
    path = match.group("path")
    content = (root / path).read_text(encoding="utf-8")
    lang = match.group("lang") or _FENCE.get(Path(path).suffix, "")
    return f"<!-- include: {path} -->\n```{lang}\n{content.rstrip()}\n```\n"


def build(readme: str, root: Path = ROOT) -> str:
    """The README with its generated parts rebuilt from their sources."""
    sections = "\n".join(task_section(name, root) for name in PLUGINS)
    readme = _between(readme, "<!-- tasks:start -->", "<!-- tasks:end -->", sections)
    return _INCLUDE.sub(lambda m: _include(m, root), readme)


def main(argv: list[str] | None = None) -> int:
    """Rewrite README.md, or with ``--check`` exit 1 when it is out of date."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if README.md would change")
    args = parser.parse_args(argv)
    path = ROOT / "README.md"
    current = path.read_text(encoding="utf-8")
    wanted = build(current)
    if args.check:
        if wanted != current:
            print("README.md is out of date: run python scripts/build_readme.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        path.write_text(wanted, encoding="utf-8")
        print("README.md rebuilt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
