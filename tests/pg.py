"""A PostgreSQL server for the store's tests.

If ``AIPOSTURE_TEST_PG_URL`` is set (``postgresql://user:pw@host:port/db`` of
a role allowed to create databases), that server is used. Otherwise a private
server is started for the test session: ``initdb`` in a temporary folder,
``postgres`` on 127.0.0.1 and a free port with its unix socket in the same
folder, stopped with ``pg_ctl stop -m fast`` at the end. PostgreSQL refuses to
run as root, so as root the server runs as the ``postgres`` system user (or,
failing that, a dedicated unprivileged user created for it).

Anything that prevents a server raises :class:`PgUnavailable` with the exact
reason, which the fixtures turn into a visible skip.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:
    import psycopg

__all__ = ["ENV_URL", "PgServer", "PgUnavailable", "find_pg_bin", "server"]

ENV_URL = "AIPOSTURE_TEST_PG_URL"
_DEDICATED_USER = "aiposture-pg"


class PgUnavailable(RuntimeError):
    """No PostgreSQL server can be used; ``str(exc)`` says why."""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise PgUnavailable(f"the psycopg driver is not installed ({exc})") from exc
    return psycopg


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (PATH first, then the newest Debian layout)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent

    def version(p: Path) -> tuple[int, ...]:
        part = p.parent.parent.name
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    for candidate in sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version, reverse=True
    ):
        folder = candidate.parent
        if (folder / "pg_ctl").exists() and (folder / "postgres").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", _DEDICATED_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    useradd = shutil.which("useradd")
    if useradd is None:
        raise PgUnavailable(
            "running as root, PostgreSQL refuses to run as root, there is no 'postgres' "
            "user and useradd is missing to create one"
        )
    proc = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _DEDICATED_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise PgUnavailable(
            f"running as root and cannot create the user {_DEDICATED_USER!r} to run "
            f"PostgreSQL as: {proc.stderr.strip()}"
        )
    return pwd.getpwnam(_DEDICATED_USER)


class PgServer:
    """A server the tests may create databases on."""

    def __init__(
        self, admin_url: URL, *, stop: Sequence[str] | None = None, folder: Path | None = None
    ):
        self.admin_url = admin_url
        self._stop_cmd = list(stop) if stop else None
        self._folder = folder

    @property
    def private(self) -> bool:
        """Whether this server was started by the tests."""
        return self._stop_cmd is not None

    def _conninfo(self, url: URL) -> str:
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def connect_admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection to the maintenance database."""
        conn: psycopg.Connection[tuple[object, ...]] = _psycopg().connect(
            self._conninfo(self.admin_url), autocommit=True, connect_timeout=10
        )
        return conn

    def create_database(self) -> str:
        """Create an empty database; return its SQLAlchemy URL (psycopg driver)."""
        name = f"aip_test_{uuid.uuid4().hex[:16]}"
        with self.connect_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.admin_url.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database` (disconnecting its clients)."""
        name = make_url(url).database
        if not name or not name.startswith("aip_test_"):
            raise ValueError(f"refusing to drop {name!r}: not a test database")
        with self.connect_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop a private server and delete its folder (no-op for a given server)."""
        if self._stop_cmd is not None:
            subprocess.run(self._stop_cmd, capture_output=True, check=False, timeout=120)
            self._stop_cmd = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _run(cmd: list[str], user: pwd.struct_passwd | None, what: str, timeout: float = 120) -> None:
    full = ["runuser", "-u", user.pw_name, "--", *cmd] if user is not None else cmd
    try:
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PgUnavailable(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        out = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise PgUnavailable(f"{what} failed (exit {proc.returncode}): {' | '.join(out)}")


def _wait_ready(url: URL, deadline: float) -> None:
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    driver = _psycopg()
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with driver.connect(conninfo, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except driver.Error as exc:
            last = exc
            time.sleep(0.1)
    raise PgUnavailable(f"the private PostgreSQL server does not accept connections: {last}")


def _start_private() -> PgServer:
    bindir = find_pg_bin()
    if bindir is None:
        raise PgUnavailable(
            "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in "
            f"/usr/lib/postgresql/*/bin) and {ENV_URL} is not set"
        )
    user = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="aiposture-pg-"))
    try:
        if user is not None:
            os.chown(folder, user.pw_uid, user.pw_gid)
        data, log = folder / "data", folder / "server.log"
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            user,
            "initdb",
        )
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            user,
            f"starting postgres (log: {log})",
        )
        stop = [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        if user is not None:
            stop = ["runuser", "-u", user.pw_name, "--", *stop]
        url = URL.create(
            "postgresql+psycopg",
            username="postgres",
            host="127.0.0.1",
            port=port,
            database="postgres",
        )
        server = PgServer(url, stop=stop, folder=folder)
        try:
            _wait_ready(url, time.monotonic() + 30)
        except PgUnavailable:
            server.stop()
            raise
        atexit.register(server.stop)  # also if the session ends without its teardown
        return server
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def server() -> PgServer:
    """The server named by ``AIPOSTURE_TEST_PG_URL``, else a freshly started private one.

    Raises:
        PgUnavailable: Neither is possible; the message says exactly why.
    """
    given = os.environ.get(ENV_URL, "").strip()
    if given:
        url = make_url(given)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        srv = PgServer(url)
        try:
            with srv.connect_admin() as conn:
                conn.execute("SELECT 1")
        except _psycopg().Error as exc:
            raise PgUnavailable(f"cannot connect to {ENV_URL}={url!r}: {exc}") from exc
        return srv
    return _start_private()
