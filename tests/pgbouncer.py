"""PgBouncer in transaction mode in front of the test PostgreSQL, from deploy/pgbouncer.ini, on a free port."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests import processes
from tests.support import POSTGRES_ADMIN_URL, REQUIRE_POSTGRES, closed_port, wait_for

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "pgbouncer.ini"


class PgBouncer:
    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, database_url: str) -> str:
        """The same database, through the pooler."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)


def _binary() -> str:
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(found).exists():
        message = "pgbouncer is not installed (apt-get install pgbouncer)"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return found


def _accepts(port: int) -> bool:
    try:
        target = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql", host="127.0.0.1", port=port)
        psycopg.connect(target.render_as_string(hide_password=False), connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@contextmanager
def pgbouncer() -> Iterator[PgBouncer]:
    """deploy/pgbouncer.ini with a free port and a folder of its own. PgBouncer refuses to run as root: as root,
    it runs as the postgres user."""
    binary = _binary()
    upstream = make_url(POSTGRES_ADMIN_URL)
    root = Path(tempfile.mkdtemp(prefix="tasks-api-pgbouncer-"))
    port = closed_port()
    config = (
        CONFIG.read_text()
        .replace("@LISTEN_PORT@", str(port))
        .replace("@POSTGRES_HOST@", upstream.host or "127.0.0.1")
        .replace("@POSTGRES_PORT@", str(upstream.port or 5432))
        .replace("@POSTGRES_USER@", upstream.username or "postgres")
        .replace("@RUN_DIR@", str(root))
    )
    (root / "pgbouncer.ini").write_text(config)
    run_as: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (root, root / "pgbouncer.ini"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    process = processes.start(
        [*run_as, binary, str(root / "pgbouncer.ini")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: process.poll() is not None or _accepts(port), what="PgBouncer to accept connections")
        assert process.poll() is None, (root / "pgbouncer.log").read_text()
        yield PgBouncer(port)
    finally:
        processes.kill(process)
        shutil.rmtree(root, ignore_errors=True)
