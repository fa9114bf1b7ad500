"""Who a run is: its name, and the tags that make it reproducible (code version, command,
environment, overrides), for a job's run and a sweep's parent run alike."""

import getpass
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunelab.cli.runtime import this_process


@dataclass
class RunIdentity:
    name: str
    tags: dict[str, str]
    parent_run_id: str | None = None
    diff: str = ""  # the uncommitted changes of a dirty tree, logged as git.diff
    choices: dict[str, str] = field(default_factory=dict)  # group -> choice, params of the run


def masked(identity: RunIdentity) -> RunIdentity:
    """The command line and overrides in names and tags, with secrets masked (tunelab.cli.redact)."""
    from tunelab.cli.redact import mask_text

    tags = {k: mask_text(v) for k, v in identity.tags.items()}
    name, diff = mask_text(identity.name), mask_text(identity.diff)
    return RunIdentity(name, tags, identity.parent_run_id, diff, identity.choices)


# Untracked files here make a tree dirty (a new model or config is part of the run).
CODE_FOLDERS = ("src", "conf")


def _git(root: str | Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
    )
    return out.stdout.strip() if out.returncode == 0 else ""


def git_diff(root: str | Path) -> str:
    """What differs from HEAD: the diff of tracked files, then each untracked file under
    src/ and conf/ as a new-file diff ("" for a clean tree or no repository)."""
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", *CODE_FOLDERS)
    new_files = [
        subprocess.run(
            ["git", "-C", str(root), "diff", "--no-index", "--", "/dev/null", name],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        for name in untracked.splitlines()
    ]
    return "\n".join(part for part in [_git(root, "diff", "HEAD"), *new_files] if part)


def git_state(root: str | Path) -> dict[str, str]:
    commit = _git(root, "rev-parse", "HEAD")
    if not commit:
        return {"git.commit": "unknown"}
    changed = _git(root, "status", "--porcelain", "--untracked-files=no")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", *CODE_FOLDERS)
    dirty = bool(changed or untracked)
    return {
        "git.commit": commit,
        "git.dirty": str(dirty).lower(),
        "mlflow.source.git.commit": commit,
    }


def provenance_tags(root: str | Path) -> dict[str, str]:
    """The code, command and environment a run comes from (every run, sweep parents too)."""
    from importlib.metadata import version  # the packages' metadata: no import of torch here

    return {
        **git_state(root),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "process": this_process(),
        "mlflow.user": getpass.getuser(),
        "mlflow.source.name": sys.argv[0],
        "version.torch": version("torch"),
        "version.lightning": version("lightning"),
        "version.python": sys.version.split()[0],
    }


def data_label(cfg: Any, choice: str | None) -> str | None:
    """What a run trains on, for its name: the data set (`choice`, conf/data: digits), or a
    table or image folder of your own by its file or folder name (data.source.path or root)."""
    from omegaconf import OmegaConf

    for key in ("data.source.path", "data.source.root"):
        if location := OmegaConf.select(cfg, key, default=None):
            return Path(str(location)).stem or choice
    return choice


def masked_provenance(root: str | Path) -> dict[str, str]:
    """provenance_tags with secrets masked in the command line: an evaluation's or export's run."""
    from tunelab.cli.redact import mask_text

    return {key: mask_text(value) for key, value in provenance_tags(root).items()}


def run_name(choices: dict[str, str], lr: float | None, fold: int | None, data: str | None) -> str:
    """`cnn-adam-lr0.001 on digits`: the network, the optimizer and its learning rate, the
    scheduler unless constant, the fold when one is set, and the data; a baseline
    (baseline.py) by its estimator: `random_forest on diabetes`."""
    if "estimator" in choices:
        parts = [choices["estimator"]]
    else:
        parts = [choices.get("model", "model"), choices.get("optimizer", "opt")]
    if lr is not None:
        parts.append(f"lr{lr:g}")
    if choices.get("scheduler") not in (None, "constant"):
        parts.append(choices["scheduler"])
    if fold is not None:
        parts.append(f"fold{fold}")
    return "-".join(parts) + (f" on {data}" if data else "")


def job_identity(
    hydra_cfg,
    root: str | Path,
    lr: float | None,
    fold: int | None,
    data: str | None,
    trial: tuple[str | None, dict[str, str], str] | None = None,
) -> RunIdentity:
    """A job's run: named from its main choices, learning rate, fold and data; a sweep's trial
    (`trial`: its parent run id, tags and name, tunelab.sweeps.state.trial_identity) is the
    child of the sweep's parent run."""
    choices = {
        k: str(v)
        for k, v in hydra_cfg.runtime.choices.items()
        if not k.startswith("hydra") and v is not None
    }
    tags = {
        **provenance_tags(root),
        "hydra.overrides": " ".join(hydra_cfg.overrides.task) or "(none)",
        "hydra.output_dir": hydra_cfg.runtime.output_dir,
    }
    parent, name = None, run_name(choices, lr, fold, data)
    if trial is not None:
        parent, trial_tags, name = trial
        tags.update(trial_tags)
    diff = git_diff(root) if tags.get("git.dirty") == "true" else ""
    return masked(RunIdentity(name, tags, parent, diff, choices))
