"""Fixtures of the manual's tests: the built site, and a throw-away PostgreSQL server for the
examples marked ``postgres``."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))  # docs_examples, the examples' reader


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The built site: ``$MLTASKS_DOCS_SITE`` when the caller built it already (``tox -e docs``
    runs ``mkdocs build --strict`` first), else built here the same way."""
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocs_click"):
        pytest.importorskip(module, reason="the docs tools are not installed (tox -e docs installs them)")
    given = os.environ.get("MLTASKS_DOCS_SITE")
    if given and (Path(given) / "index.html").is_file():
        return Path(given)
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-6000:]}"
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def postgres_env() -> Iterator[dict[str, str]]:
    """A PostgreSQL server from Debian's binaries on a free loopback port, for the length of one
    page's examples; yields the libpq variables (PGHOST, PGPORT, PGUSER) the examples read."""
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install 'mltasks[postgres]')")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    bin_dir = Path(found[-1]).parent
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="mltasks-docs-pg-"))
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser to start the server as 'postgres'")
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = root / "data"
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "mltasks", "--auth=trust",
                    "--no-sync"], check=True, capture_output=True)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o",
                    options, "-w", "start"], check=True, capture_output=True)
    try:
        yield {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": "mltasks"}
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
