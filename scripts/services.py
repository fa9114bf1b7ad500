"""A team store on this machine: PostgreSQL, and an MLflow server in front of it that keeps the
runs in PostgreSQL and proxies the artifacts into a folder (`--artifacts-destination`).

    make services                 # start both under .services/, print the settings to use
    make services ARGS=stop       # stop them

The same pair a team runs for real, with a managed PostgreSQL and an object store in place of
the local folders (README "A team store"). The tests start it the same way (tests/test_team_store.py).
"""

import argparse
import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATABASES = ("mlflow", "optuna")  # the runs, and the Optuna studies
USER = "tunelab"


@dataclass
class Services:
    postgres: str  # postgresql://tunelab@127.0.0.1:PORT (add /mlflow or /optuna)
    tracking_uri: str  # http://127.0.0.1:PORT
    data: str  # PostgreSQL's data folder
    server_pid: int

    @property
    def optuna_storage(self) -> str:
        return f"{self.postgres}/optuna"


def postgres_program(name: str) -> str:
    """A PostgreSQL program: on PATH, or where Debian puts it (/usr/lib/postgresql/N/bin)."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise SystemExit(
            f"services: PostgreSQL's {name} not found: install the server "
            "(Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql)"
        )
    return found


def as_postgres_user() -> dict:
    """PostgreSQL refuses to run as root: as root, its programs run as `nobody`."""
    if os.geteuid() != 0:
        return {}
    import pwd

    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid}


def data_folder(folder: Path) -> Path:
    """Where PostgreSQL keeps its files: folder/postgres; as root a fresh folder under the
    system's temporary folder that `nobody` owns (it cannot reach a folder under /root)."""
    if os.geteuid() != 0:
        return folder / "postgres"
    data = Path(tempfile.mkdtemp(prefix="tunelab-postgres-"))
    owner = as_postgres_user()
    os.chown(data, owner["user"], owner["group"])
    return data / "data"


def start_postgres(data: Path, port: int) -> str:
    """initdb (once) and pg_ctl start on 127.0.0.1:port, the two databases created; its URL."""
    user = as_postgres_user()
    run = {"check": True, "capture_output": True, "text": True, **user}
    if not (data / "PG_VERSION").exists():
        subprocess.run([postgres_program("initdb"), "-D", data, "-U", USER, "-A", "trust"], **run)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    log = data / "postgres.log"
    subprocess.run(
        [postgres_program("pg_ctl"), "-D", data, "-l", log, "-o", options, "-w", "start"], **run
    )
    server = ["-h", "127.0.0.1", "-p", str(port), "-U", USER]
    for name in DATABASES:
        exists = subprocess.run(
            [
                postgres_program("psql"),
                *server,
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{name}'",
                "postgres",
            ],
            **run,
        ).stdout.strip()
        if not exists:
            subprocess.run([postgres_program("createdb"), *server, name], **run)
    return f"postgresql://{USER}@127.0.0.1:{port}"


def stop_postgres(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        subprocess.run(
            [postgres_program("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"],
            capture_output=True,
            **as_postgres_user(),
        )


def start_mlflow_server(backend: str, artifacts: Path, port: int, log: Path) -> subprocess.Popen:
    """`mlflow server` on the database, artifacts proxied into `artifacts`; returns once its
    /health answers."""
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [
        *(str(Path(sys.executable).parent / "mlflow"), "server"),
        *("--backend-store-uri", backend, "--artifacts-destination", str(artifacts)),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]
    # MLflow's job runner (three huey workers, about 700 MiB) serves its GenAI jobs, not runs.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(log, "ab") as out:
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    wait_for_health(f"http://127.0.0.1:{port}", server, log)
    return server


def wait_for_health(url: str, server: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGKILL)
    raise RuntimeError(f"mlflow server did not answer within {seconds:g} s: see {log}")


def start_ray_head(port: int, cpus: int) -> str:
    """A Ray head on this machine (hydra/launcher=ray's hydra.launcher.address): its address."""
    subprocess.run(
        [
            *(ray_program(), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1"),
            *(f"--num-cpus={cpus}", "--object-store-memory=100000000", "--include-dashboard=false"),
        ],
        check=True,
        capture_output=True,
        env=RAY_ENV,
        timeout=120,
    )
    return f"127.0.0.1:{port}"


def stop_ray() -> None:
    subprocess.run(
        [ray_program(), "stop", "--force"], capture_output=True, env=RAY_ENV, timeout=120
    )


def ray_program() -> str:
    return str(Path(sys.executable).parent / "ray")


# No usage reports; no token authentication (Ray turns it on where an earlier instance left a token).
RAY_ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    folder: Path, postgres_port: int | None = None, server_port: int | None = None
) -> Services:
    """Both services, their files under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = data_folder(folder)
    postgres = start_postgres(data, postgres_port or free_port())
    server_port = server_port or free_port()
    try:
        server = start_mlflow_server(
            f"{postgres}/mlflow", folder / "artifacts", server_port, folder / "mlflow-server.log"
        )
    except BaseException:
        stop_postgres(data)
        raise
    return Services(postgres, f"http://127.0.0.1:{server_port}", str(data), server.pid)


def stop(services: Services) -> None:
    """The server and its workers (its own process group), then PostgreSQL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(services.server_pid, signal.SIGTERM)
    stop_postgres(Path(services.data))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("action", nargs="?", choices=("start", "stop"), default="start")
    parser.add_argument("--folder", type=Path, default=ROOT / ".services")
    parser.add_argument("--postgres-port", type=int, default=5433)
    parser.add_argument("--server-port", type=int, default=5001)
    options = parser.parse_args()
    state = options.folder / "services.json"
    if options.action == "stop":
        if state.exists():
            stop(Services(**json.loads(state.read_text())))
            state.unlink()
            print("services: stopped")
        return
    if state.exists():
        raise SystemExit(f"services: already started ({state}); `make services ARGS=stop` first")
    services = start(options.folder, options.postgres_port, options.server_port)
    state.write_text(json.dumps(asdict(services)))
    print(
        f"services: PostgreSQL at {services.postgres} (data: {services.data}), "
        f"MLflow server at {services.tracking_uri} (artifacts: {options.folder / 'artifacts'})\n"
        f"export MLFLOW_TRACKING_URI={services.tracking_uri}\n"
        "python train.py -m hparams_search=digits_tpe "
        f"hydra.sweeper.storage={services.optuna_storage}"
    )


if __name__ == "__main__":
    main()
