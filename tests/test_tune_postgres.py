"""Several ``mltasks tune`` workers share one study on a real PostgreSQL server.

The server comes from Debian's binaries (``apt-get install postgresql``), started here in a
temporary data directory on a free loopback port and stopped at the end. As root, it runs as
the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TRIALS = 8


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    """PostgreSQL will not run as root: run its programs as ``postgres`` then."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@pytest.fixture
def postgres_url():
    """A throw-away PostgreSQL server on 127.0.0.1; yields its SQLAlchemy URL."""
    pytest.importorskip("optuna")
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install 'psycopg[binary]')")
    bin_dir = _binaries()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            server_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser to start the server as 'postgres'")
    root = Path(tempfile.mkdtemp(prefix="mltasks-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        os.chown(root, server_user.pw_uid, server_user.pw_gid)
    port = _free_port()
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "mltasks", "--auth=trust",
                                    "--no-sync"]), check=True, capture_output=True)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
    subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"),
                                    "-o", options, "-w", "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://mltasks@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _worker(site: Path, space: Path, url: str, out: Path, trials: int = TRIALS) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(site), "MLTASKS_TUNE_HEARTBEAT_S": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "mltasks", "tune", "quad", "--space", str(space), "--trials", str(trials),
         "--storage", url, "--study-name", "shared", "--pruner", "none", "--set", "delay=1.5", "--out", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _trials(url: str) -> list:
    import optuna

    from mltasks.tune.storage import make_storage, storage_url

    try:
        return optuna.load_study(study_name="shared", storage=make_storage(storage_url(url, Path()))).trials
    except KeyError:  # the workers have not created the study yet
        return []


def _sibling(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"mltasks_tests_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_workers_share_a_postgres_study_and_survive_a_killed_one(postgres_url, make_distribution, tmp_path):
    tune_tests = _sibling("test_tune")  # --import-mode=importlib: test modules are not importable by name
    QUAD_PLUGIN, QUAD_TASK, X_SPACE = tune_tests.QUAD_PLUGIN, tune_tests.QUAD_TASK, tune_tests.X_SPACE

    site = make_distribution("mltasks-quad", "quad_plugin", QUAD_PLUGIN, entry="quad")
    (site / "quad_task.py").write_text(QUAD_TASK)
    space = tmp_path / "space.toml"
    space.write_text(X_SPACE)
    first = _worker(site, space, postgres_url, tmp_path / "a")
    second = _worker(site, space, postgres_url, tmp_path / "b")
    try:
        deadline = time.time() + 240
        while time.time() < deadline:  # kill the second worker once the study is under way
            if first.poll() is not None:
                pytest.fail(f"worker a stopped early:\n{first.stdout.read()}")
            trials = _trials(postgres_url) if second.poll() is None else []
            if sum(t.state.name == "COMPLETE" for t in trials) >= 2 and any(
                    t.state.name == "RUNNING" for t in trials):
                break
            time.sleep(0.5)
        second.kill()
        second.wait()
        output, _ = first.communicate(timeout=240)
    finally:
        for worker in (first, second):
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert first.returncode == 0, output
    trials = _trials(postgres_url)
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == TRIALS  # --trials is the study's total, met exactly
    assert "RUNNING" not in states  # the killed worker's trial was failed by the heartbeat check
    done = [t for t in trials if t.state.name == "COMPLETE"]
    run_dirs = [t.user_attrs["run_dir"] for t in done]
    assert len(set(run_dirs)) == TRIALS and all((Path(d) / "metrics.json").is_file() for d in run_dirs)
    assert {Path(d).parent.parent.name for d in run_dirs} == {"a", "b"}  # both workers ran trials
    assert len({t.params["x"] for t in trials}) == len(trials)  # no worker replayed another's parameters
    assert "Best trial" in output and (tmp_path / "a" / "trials.csv").read_text().count("\n") == len(trials) + 1
