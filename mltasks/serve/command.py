"""``mltasks serve RUN_DIR``: put a finished run's model behind an HTTP API and a try-it page.

Only click is imported here; FastAPI and uvicorn (extra ``mltasks[serve]``) are imported
when the command runs. Everything that can fail is checked before the server starts, each
with exit status 2 and one ``Error:`` line: the run directory is loaded, the limits and the
``--set`` predict options are checked, the host is resolved and the port is bound once.
"""

from __future__ import annotations

import click

from mltasks.cli_group import SetPairsCommand
from mltasks.serve.network import KEEP_ALIVE_S, bind, loopback

_loopback = loopback  # the name the tests know


@click.command(cls=SetPairsCommand)
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Predict options for every request (see /v1/info); a request's own options override "
                   "them, except those only the machine's user may give (a module to import: rl's "
                   "env_module), which no client may name. Checked at start-up; each --set takes one or "
                   "more pairs.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; 0.0.0.0 exposes the model (no authentication) to the network.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Server processes, each with its own model process, copy of the model in memory and batch "
                   "queue; more than one helps only where one server and its model leave CPU cores idle.")
@click.option("--max-batch-size", "--max-batch", "max_batch_size", default=32, show_default=True,
              type=click.IntRange(min=1), help="Most inputs per predict call: concurrent requests are batched "
                                              "up to this size, longer requests run in several calls.")
@click.option("--max-batch-wait-ms", default=10.0, show_default=True, type=click.FloatRange(min=0),
              help="How long a request may wait for others to join its batch (0: never wait).")
@click.option("--max-queue", default=1024, show_default=True, type=click.IntRange(min=1),
              help="Most inputs waiting for the model; beyond it 503 with Retry-After.")
@click.option("--max-inputs", default=256, show_default=True, type=click.IntRange(min=1),
              help="Most inputs (texts, files, rows) in one request (413 beyond it).")
@click.option("--max-upload-mb", default=32.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Largest request body (413 beyond it).")
@click.option("--max-image-pixels", default=40_000_000, show_default=True, type=click.IntRange(min=1),
              help="Largest uploaded image, width x height (413 beyond it).")
@click.option("--max-audio-seconds", default=600.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True), help="Longest uploaded audio clip (413 beyond it).")
@click.option("--request-timeout", default=60.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds a request may take, queueing included (504 beyond it).")
@click.option("--tmp-dir", type=click.Path(file_okay=False, exists=True, writable=True), default=None,
              help="Where uploaded files wait for their prediction (default: the system's temp folder; a "
                   "memory file system such as /dev/shm makes uploads cheaper).")
@click.option("--keep-alive", default=KEEP_ALIVE_S, show_default=True, type=click.IntRange(min=1),
              help="Seconds an idle client connection stays open; keep it longer than your clients' or proxy's "
                   "idle timeout, so that the server never closes a connection a client is reusing.")
@click.option("--model-process/--in-process", default=True, show_default=True,
              help="Run the model in a process of its own, beside the one that reads and answers requests "
                   "(a model whose predict is Python code then no longer stops the server while it runs), "
                   "or in the server's process.")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log one line per request (costs throughput: the log is written by the serving process).")
def serve(run_dir: str, sets: tuple[str, ...], host: str, port: int, workers: int, max_batch_size: int,
          max_batch_wait_ms: float, max_queue: int, max_inputs: int, max_upload_mb: float, max_image_pixels: int,
          max_audio_seconds: float, request_timeout: float, tmp_dir: str | None, keep_alive: int,
          model_process: bool, access_log: bool) -> None:
    """Serve RUN_DIR's model: POST /v1/predict, GET /v1/info, /health/live, /health/ready, /metrics,
    a try-it page at / and the API docs at /docs.

    \b
      mltasks serve RUN --set top_k=3
      mltasks serve RL_RUN --set env_module=mypkg.envs
    """
    from mltasks.config import parse_assignments
    from mltasks.serve.application import Settings, require_serve

    require_serve()
    options = parse_assignments(sets)  # text: the task's declared types convert it (a bad pair: exit 2)
    settings = Settings(run_dir=run_dir, max_batch_size=max_batch_size, max_batch_wait_ms=max_batch_wait_ms,
                        max_queue=max_queue, max_inputs=max_inputs, max_upload_mb=max_upload_mb,
                        max_image_pixels=max_image_pixels, max_audio_seconds=max_audio_seconds,
                        request_timeout=request_timeout, tmp_dir=tmp_dir,
                        model_process=model_process, predict_options=options)  # a bad limit: exit 2
    import time

    from mltasks.serve.application import load_predictor

    started = time.perf_counter()
    # a bad run dir or --set option fails here, exit 2 (with --workers N, each worker loads its own copy later)
    predictor = load_predictor(run_dir, max_batch=max_batch_size, model_process=model_process, options=options)
    load_seconds = time.perf_counter() - started
    sock = bind(host, port)  # a port in use or a bad host fails here, exit 2
    if not loopback(host):
        click.echo(f"Warning: serving on {host}: anyone who can reach this address can use the model "
                   "(there is no authentication)", err=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving {predictor.info['task']} run {run_dir} on http://{shown}:{port}/ "
               f"(API reference at /docs; {workers} worker{'s' if workers > 1 else ''}, batches of up to "
               f"{max_batch_size}{'' if predictor.batchable else ' (this task is not batched)'})", err=True)
    if options:
        click.echo("Predict options for every request: " + " ".join(f"{k}={v}" for k, v in options.items()), err=True)
    from mltasks.serve.server import run_server

    run_server(settings, predictor, load_seconds, sock, workers=workers, keep_alive=keep_alive,
               access_log=access_log)
