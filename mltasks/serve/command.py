"""``mltasks serve RUN_DIR``: put a finished run's model behind an HTTP API and a try-it page.

Only click is imported here; FastAPI and uvicorn (extra ``mltasks[serve]``) are imported
when the command runs. The run directory is loaded and checked before the server starts,
so a bad run fails at once with exit status 2.
"""

from __future__ import annotations

import ipaddress

import click


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; 0.0.0.0 exposes the model (no authentication) to the network.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Worker processes; each loads the model once.")
@click.option("--max-batch", default=64, show_default=True, type=click.IntRange(min=1),
              help="Inputs per predict call; longer requests run in several batches.")
@click.option("--max-upload-mb", default=32.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Largest request body (413 beyond it).")
def serve(run_dir: str, host: str, port: int, workers: int, max_batch: int, max_upload_mb: float) -> None:
    """Serve RUN_DIR's model: POST /v1/predict, GET /v1/info, a try-it page at / and the API docs at /docs."""
    from mltasks.serve.application import SETTINGS_ENV, Settings, app, require_serve, settings_json

    require_serve()
    import uvicorn

    from mltasks.serve.predictor import Predictor

    predictor = Predictor.load(run_dir, max_batch=max_batch)  # a bad run dir fails here, exit 2
    settings = Settings(run_dir=run_dir, max_batch=max_batch, max_upload_mb=max_upload_mb)
    if not _loopback(host):
        click.echo(f"Warning: serving on {host}: anyone who can reach this address can use the model "
                   "(there is no authentication)", err=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving {predictor.info['task']} run {run_dir} on http://{shown}:{port}/ "
               f"(API reference at /docs)", err=True)
    if workers == 1:
        uvicorn.run(app(run_dir, max_batch=max_batch, max_upload_mb=max_upload_mb, predictor=predictor),
                    host=host, port=port, log_level="info")
        return
    import os

    del predictor  # every worker process loads its own copy in its lifespan hook
    os.environ[SETTINGS_ENV] = settings_json(settings)
    uvicorn.run("mltasks.serve.application:app_from_env", factory=True, workers=workers, host=host, port=port,
                log_level="info")
