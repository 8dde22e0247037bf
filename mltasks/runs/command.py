"""``mltasks runs`` and ``mltasks compare``: find the best run, see what changed between runs.

Registered lazily by the built-in plugin ``mltasks.runs.hooks`` (``mltasks.runs.command:runs`` / ``:compare``); this
module imports only click at the top, and the commands read only the runs' JSON files.
"""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("folders", nargs=-1, type=click.Path(file_okay=False))
@click.option("--task", help="Only runs of this task.")
@click.option("--sort", default="", metavar="METRIC",
              help="Sort by this metric (best first; runs lacking it last) or by a column: name, task, started, "
                   "duration, seed, status. Default: each task's primary metric.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every metric of every run).")
@click.option("--all", "show_all", is_flag=True,
              help="Also the unfinished runs: .NAME.partial (resumable, running, interrupted, failed) and unreadable.")
def runs(folders: tuple[str, ...], task: str | None, sort: str, as_json: bool, show_all: bool) -> None:
    """List the runs in FOLDERS (default runs/): one line per run with its primary metric."""
    from mltasks.runs.listing import check_folder, order, scan, select
    from mltasks.runs.table import duration, number, text_table

    for folder in folders:  # named folders must exist; the default runs/ may not yet
        check_folder(folder)
    found = scan(folders or ("runs",))
    shown = order(select(found, task=task, show_all=show_all), sort)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in shown], indent=2))
        return
    hidden = len(select(found, task=task, show_all=True)) - len(shown)
    where = ", ".join(folders or ("runs",))
    if not shown:
        click.echo(f"No {'finished ' if not show_all else ''}runs{f' of {task}' if task else ''} in {where}."
                   + (f" {hidden} unfinished: see them with --all." if hidden else ""))
        return
    rows = [[r.name, r.task, r.data, r.split, r.metric, number(r.value), "-" if r.seed is None else r.seed,
             duration(r.duration_s), r.status] for r in shown]
    click.echo(text_table(["run", "task", "data", "split", "metric", "value", "seed", "duration", "status"],
                          rows, right=(5, 6, 7)))
    if hidden:
        click.echo(f"({hidden} unfinished or failed run{'s' if hidden != 1 else ''} not shown: add --all)", err=True)


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN RUN [RUN...]")
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False),
              help="Write the runs' learning curves, overlaid, to this PNG (when every run has a history).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def compare(run_dirs: tuple[str, ...], plot_file: str | None, as_json: bool) -> None:
    """Compare runs of one task: differing config, metrics side by side, data and versions.

    A RUN is a run directory, or the name of one under runs/.
    """
    from mltasks.runs.compare import compare_runs, format_comparison

    result = compare_runs(run_dirs, plot=plot_file)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    click.echo(format_comparison(result))
    if plot_file and result.get("plot_note"):
        click.echo(f"Note: {result['plot_note']}", err=True)
