"""Every "Make it yours" how-to of the README, performed on a copy of the tree: files written as
shown, commands run as shown (with a one-step budget added)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.services import free_port
from tests.conftest import ROOT
from tests.test_rename import tracked_copy

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it

ONE_STEP = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=1",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "print_config=false",
    "callbacks.progress_bar=null",
]
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def howtos() -> dict[str, list[tuple[str, str]]]:
    """{how-to title: [(language, code), ...]} from the README's "Make it yours" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Make it yours", 1)[1].split("\n## ", 1)[0]
    found = {}
    for part in section.split("\n### ")[1:]:
        title, body = part.split("\n", 1)
        found[title.strip()] = BLOCK.findall(body)
    return found


def apply_file_block(copy: Path, code: str) -> None:
    first, rest = code.split("\n", 1)
    if match := re.fullmatch(r"# add to (\w+) in (\S+)", first.strip()):
        anchor, path = match.groups()
        target = copy / path
        lines = target.read_text().splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if line.startswith(anchor))
        target.write_text("".join(lines[: at + 1]) + rest + "".join(lines[at + 1 :]))
        return
    # The path is the first comment naming one (a Hydra "# @package" line may come first).
    named = next(
        line for line in code.splitlines()[:2] if re.fullmatch(r"# (conf|src)/\S+", line.strip())
    )
    path = copy / named.removeprefix("# ").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code)


def wait_for(url: str, seconds: float = 60) -> None:
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(url)


@pytest.fixture
def copy(tmp_path) -> Path:
    return tracked_copy(tmp_path / "tree")


@pytest.mark.parametrize("title", sorted(howtos()))
def test_readme_howto(copy: Path, title: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "TUNELAB_ROOT": str(copy)}
    env.pop("MLFLOW_TRACKING_URI", None)
    port = str(free_port())
    servers, outputs = [], []
    try:
        for language, code in howtos()[title]:
            if language != "bash":
                apply_file_block(copy, code)
                continue
            for line in code.strip().splitlines():
                line = line.replace("5000", port)
                if line.startswith("mlflow server"):
                    command = [
                        str(Path(sys.executable).parent / "mlflow"),
                        *line.rstrip("& ").split()[1:],
                    ]
                    servers.append(
                        subprocess.Popen(
                            command,
                            cwd=copy,
                            env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
                    wait_for(f"http://127.0.0.1:{port}")
                elif line.startswith("python train.py"):
                    args = [sys.executable, str(copy / "train.py"), *line.split()[2:], *ONE_STEP]
                    result = subprocess.run(
                        args, cwd=copy, env=env, capture_output=True, text=True, timeout=300
                    )
                    assert result.returncode == 0, (
                        f"{line}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
                    )
                    outputs.append(result.stdout)
        # a run ends with its test metrics; a sweep with a line per trial and its best
        assert outputs and all(
            "test/acc" in out or ("trial #" in out and "best trial #" in out) for out in outputs
        )
        check_howto_effect(title, copy, port, outputs)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def check_howto_effect(title: str, copy: Path, port: str, outputs: list[str]) -> None:
    from mlflow import MlflowClient

    if "server" in title:
        client = MlflowClient(f"http://127.0.0.1:{port}")
        runs = client.search_runs([client.get_experiment_by_name("team").experiment_id])
        assert len(runs) == 1 and runs[0].info.status == "FINISHED"
        assert {"config.yaml", "checkpoints"} <= {
            a.path for a in client.list_artifacts(runs[0].info.run_id)
        }
        return
    client = MlflowClient(f"sqlite:///{copy}/mlflow.db")
    run_id = re.findall(r"MLflow (?:parent )?run: (\w+)", outputs[-1])[-1]  # a sweep: its parent
    run = client.get_run(run_id)
    if "metric" in title:
        assert "val/precision" in run.data.metrics and "test/precision" in run.data.metrics
    if "network" in title:
        assert run.data.params["model.width"] == "64"
    if "data set" in title:
        assert run.data.tags["data.name"] == "moons"
    if "optimizer" in title:
        assert run.data.params["optimizer"] == "adagrad"
    if "experiment" in title:
        assert run.data.params["seed"] == "7"
