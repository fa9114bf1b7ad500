"""Tags that make a run reproducible: code version, command, overrides, environment."""

import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path


def git_state(root: str | Path) -> dict[str, str]:
    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {"git.commit": "unknown"}
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {
        "git.commit": commit,
        "git.dirty": str(dirty).lower(),
        "mlflow.source.git.commit": commit,
    }


def run_tags(root: str | Path, overrides: list[str], output_dir: str) -> dict[str, str]:
    from importlib.metadata import version  # the packages' metadata: no import of torch here

    return {
        **git_state(root),
        "hydra.overrides": " ".join(overrides) or "(none)",
        "hydra.output_dir": output_dir,
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "process": f"{socket.gethostname()}:{os.getpid()}",
        "mlflow.source.name": sys.argv[0],
        "version.torch": version("torch"),
        "version.lightning": version("lightning"),
        "version.python": sys.version.split()[0],
    }


def device_tags(root_device) -> dict[str, str]:
    import torch

    tags = {"device": str(root_device)}
    if root_device.type == "cuda":
        tags["device.name"] = torch.cuda.get_device_name(root_device)
    return tags
