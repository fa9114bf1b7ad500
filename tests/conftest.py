"""Shared helpers: run the real entry point in a subprocess against a temporary store."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# Small budgets that still train for real.
TINY = ["trainer.max_epochs=2", "print_config=false", "callbacks.progress_bar=null"]


def run_entry(
    args: list[str], root: Path, script: str = "train.py", check: bool = True, timeout: int = 300
) -> subprocess.CompletedProcess:
    """`python train.py ARGS` with its outputs, data folder and MLflow store under `root`."""
    env = {**os.environ, "TUNELAB_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{script} {args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


def store_uri(root: Path) -> str:
    return f"sqlite:///{root}/mlflow.db"


@pytest.fixture
def client_for():
    from mlflow import MlflowClient

    return lambda root: MlflowClient(store_uri(root))


def compose_config(overrides: list[str], output_dir: str = "/tmp/tunelab-compose"):
    """The resolved train config, as `python train.py OVERRIDES` would see it, composed in-process."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    OmegaConf.set_readonly(cfg, False)
    cfg.hydra.runtime.output_dir = output_dir
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    OmegaConf.resolve(cfg)
    return cfg
