"""`python -m tests.servers -- CMD...`: run CMD with the servers the tests need.

`make test` runs pytest through this. A server given by the environment is used as it is
(`DATABASE_URL`, `REDIS_URL`, `S3_ENDPOINT_URL`); for each one that is not, a throwaway
server is started from the installed binaries on a free port, in a temporary folder, and
stopped (and its folder removed) when CMD ends:

- PostgreSQL: `initdb` + `postgres` (run as the `postgres` user when we are root, because
  PostgreSQL refuses to run as root), trust auth, listening on 127.0.0.1 only;
- Redis: `redis-server` with persistence off;
- S3: moto's server mode (`python -m moto.server`), a real HTTP endpoint boto3 talks to.
"""

from __future__ import annotations

import contextlib
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

START_TIMEOUT = 60


class ServerError(RuntimeError):
    """A throwaway server could not be started."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, name: str):
    """Return once `port` accepts connections; fail if `process` dies or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{name} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise ServerError(f"{name} did not listen on port {port} within {START_TIMEOUT} s")


@contextlib.contextmanager
def serving(process: subprocess.Popen, port: int, name: str, url: str):
    """Yield `url` once `process` listens on `port`; stop the process afterwards."""
    try:
        wait_for_port(port, process, name)
        yield url
    finally:
        stop(process)


def postgres_bindir() -> Path:
    """Where Debian keeps the PostgreSQL server binaries (the newest installed version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServerError("PostgreSQL server binaries not found; install the postgresql package")


def _postgres_account() -> dict:
    """subprocess arguments that run PostgreSQL's binaries as `postgres` when we are root."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam("postgres")
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


@contextlib.contextmanager
def postgres(root: Path):
    """A throwaway PostgreSQL server; yields its DATABASE_URL."""
    bindir, port, account = postgres_bindir(), free_port(), _postgres_account()
    data = root / "postgres"
    data.mkdir()
    if account:
        os.chown(data, account["user"], account["group"])
    subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=data,
        **account,
    )
    server = subprocess.Popen(
        [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={data}",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(root / "postgres.log", "wb"),
        cwd=data,
        **account,
    )
    with serving(server, port, "PostgreSQL", f"postgresql://postgres@127.0.0.1:{port}/postgres") as url:
        yield url


@contextlib.contextmanager
def redis(root: Path):
    """A throwaway Redis server; yields its REDIS_URL."""
    binary = shutil.which("redis-server")
    if not binary:
        raise ServerError("redis-server not found; install the redis-server package")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with serving(server, port, "Redis", f"redis://127.0.0.1:{port}/0") as url:
        yield url


@contextlib.contextmanager
def s3(root: Path):
    """moto's S3 server as a separate process; yields its S3_ENDPOINT_URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=open(root / "s3.log", "wb"),
    )
    with serving(server, port, "the S3 server (moto)", f"http://127.0.0.1:{port}") as url:
        yield url


def stop(process: subprocess.Popen):
    """Ask a server to stop, then make sure it has."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(command: list[str]) -> int:
    """Run `command` with every server the tests need; return its exit code."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="digifort-servers-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        os.chmod(root, 0o755)
        for name, start in (("DATABASE_URL", postgres), ("REDIS_URL", redis), ("S3_ENDPOINT_URL", s3)):
            if env.get(name):
                print(f"using {name} from the environment", flush=True)
                continue
            folder = root / name.lower()
            folder.mkdir()
            env[name] = stack.enter_context(start(folder))
            print(f"started a throwaway server for {name}: {env[name]}", flush=True)
        return subprocess.call(command, env=env)


def main(argv: list[str]) -> int:
    """Entry point: everything after `--` is the command to run."""
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print("usage: python -m tests.servers -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    try:
        return run(command)
    except (ServerError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
