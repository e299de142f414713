"""A throwaway, real PostgreSQL server for tests.

`PostgresServer` runs Debian's own binaries (initdb, pg_ctl) on a fresh data directory in a
temporary folder, listening on 127.0.0.1 at a free port with trust authentication for the
`postgres` role. Durability is switched off (fsync, synchronous_commit, full_page_writes): the
data is thrown away anyway.

    with PostgresServer() as pg:
        pg.create_database("app")
        ...  # connect to pg.url("app")
        pg.stop()  # an outage: the port refuses connections
        pg.start()  # back again, same port, same data

initdb and postgres refuse to run as root; as root, they run as the `postgres` OS user, which
owns the temporary folder.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
SUPERUSER = "postgres"
_ROOT = Path("/usr/lib/postgresql")
_TIMEOUT = 60.0


def find_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb."""
    found: list[tuple[tuple[int, ...], Path]] = []
    if _ROOT.is_dir():
        for child in _ROOT.iterdir():
            bin_dir = child / "bin"
            if re.fullmatch(r"\d+(\.\d+)*", child.name) and (bin_dir / "initdb").is_file():
                found.append((tuple(int(part) for part in child.name.split(".")), bin_dir))
    if not found:
        raise RuntimeError(
            f"no PostgreSQL server binaries: no {_ROOT}/<version>/bin/initdb "
            "(install Debian's postgresql package; .ci/setup does this)"
        )
    return max(found)[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder; `start()` and `stop()` as often as needed."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.port = free_port()
        self._tmp: Path | None = None
        self._initialised = False
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    @property
    def data_dir(self) -> Path:
        return self._dir / "data"

    @property
    def log_file(self) -> Path:
        return self._dir / "postgres.log"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def start(self) -> None:
        """Start the server (creating the cluster the first time); a no-op if it runs already."""
        if self._running:
            return
        if not self._initialised:
            self._initdb()
        options = " ".join(
            [
                f"-p {self.port}",
                f"-c listen_addresses={HOST}",
                f"-c unix_socket_directories={shlex.quote(str(self._dir))}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        result = self._run_owner(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "30", "-o", options,
            "start",
        )  # fmt: skip
        if result.returncode != 0:
            # pg_ctl may give up while the postmaster still starts: make sure it is gone.
            self._run_owner("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
            raise RuntimeError(f"PostgreSQL did not start on {HOST}:{self.port}:\n{self._describe(result)}")
        self._running = True

    def stop(self) -> None:
        """Fast shutdown (open sessions are cut off); a no-op if it is not running."""
        if not self._running:
            return
        result = self._run_owner("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop")
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not stop:\n{self._describe(result)}")
        self._running = False

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> None:
        result = self._run(
            [str(self.bin_dir / "createdb"), "-h", HOST, "-p", str(self.port), "-U", SUPERUSER, "--", name]
        )
        if result.returncode != 0:
            raise RuntimeError(f"createdb {name!r} failed:\n{result.stdout}{result.stderr}")

    def close(self) -> None:
        """Stop the server and remove its temporary folder."""
        try:
            self.stop()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None
                self._initialised = False

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def _dir(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="inkstream-pg-"))
            if _is_root():
                shutil.chown(self._tmp, user=SUPERUSER, group=SUPERUSER)
        return self._tmp

    def _initdb(self) -> None:
        base = ["initdb", "-D", str(self.data_dir), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8"]
        result = self._run_owner(*base, "--locale=C.UTF-8")
        if result.returncode != 0:
            # No C.UTF-8 locale on this system: the plain C locale does for tests.
            shutil.rmtree(self.data_dir, ignore_errors=True)
            result = self._run_owner(*base, "--no-locale")
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}{result.stderr}")
        self._initialised = True

    def _run_owner(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a server binary as the data directory's owner: `postgres` when we are root."""
        command = [str(self.bin_dir / program), *args]
        if _is_root():
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        return self._run(command)

    def _run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        # PG* variables from the caller's environment would point the client tools elsewhere.
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        return subprocess.run(
            command, cwd=self._dir, env=env, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )

    def _describe(self, result: subprocess.CompletedProcess[str]) -> str:
        try:
            log = self.log_file.read_text(errors="replace")
        except OSError as error:
            log = f"(no log: {error})"
        return f"{result.stdout}{result.stderr}--- {self.log_file}:\n{log}"


def _is_root() -> bool:
    return os.geteuid() == 0
