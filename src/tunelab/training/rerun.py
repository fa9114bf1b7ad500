"""resume=RUN_ID and reproduce=RUN_ID: a recorded run's command line, read back from its store.

train.py rewrites its command line with `rerun_command` before Hydra composes it: the run's
recorded overrides (its `overrides.yaml` artifact) come first, then what the command adds.
resume also points `hydra.run.dir` at the run's own folder: its checkpoints are there, and
Lightning's ModelCheckpoint keeps its best only when the folder is the same. Hydra offers no
hook between reading the command line and composing, hence the rewrite.

    resume     the same MLflow run continues from checkpoints/last.ckpt; its config may differ
               from the recorded one only in the budget (BUDGET) and display keys (DISPLAY).
    reproduce  a new run of the recorded config, tagged `reproduces`; what differs from the
               source (config, code, data) is said, not refused.
"""

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunelab import CONF
from tunelab.cli.moved import upgrade_container, upgrade_overrides
from tunelab.cli.overrides import override_key, overrides_dict

log = logging.getLogger(__name__)

RERUN_KEYS = ("resume", "reproduce")
BUDGET = ("trainer.max_epochs", "trainer.max_steps", "trainer.max_time")
DISPLAY = ("print_config", "callbacks.progress_bar")
# How the run is recorded, not what it trains: a resumed run may differ there (and a run
# recorded before one of them existed resumes).
BOOKKEEPING = (
    "tracking.writer",
    "tracking.flush_seconds",
    "tracking.system_metrics_seconds",
    "tracking.heartbeat_seconds",
    "tracking.not_params",  # which keys are logged as params
    "promote_to",  # where a sweep writes its best trial's config
    "cost",  # what is measured after the test (cost/*), not what is trained
)
# Keys added since a run may have been recorded, with the value that trains as before: a run
# recorded without one compares equal when the key holds that value now.
ADDED_SINCE: dict[str, Any] = {
    "repeats": 1,
    "objective.more": [],
    "init_from": None,
    "freeze.modules": [],
    "freeze.until_epoch": None,
    "freeze.lr_factor": 0.1,
    "callbacks.weight_averaging": None,
    "lr_find": False,
    "lr_find_range.min_lr": 1.0e-6,
    "lr_find_range.max_lr": 1.0,
    "lr_find_range.steps": 100,
    "trainer.accumulate_grad_batches": 1,
}


@dataclass
class RecordedRun:
    run_id: str
    status: str
    output_dir: str
    overrides: list[str]
    config: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)


_recorded: dict[str, RecordedRun] = {}  # read once per process: rerun_command, then the job


def rerun_command(argv: list[str]) -> list[str]:
    """argv with `resume=ID` / `reproduce=ID` expanded into the run's recorded overrides;
    argv itself when neither is given. A run that cannot be rerun ends here in one line."""
    given = overrides_dict(a for a in argv[1:] if not a.startswith("-"))
    asked = {key: value for key, value in given.items() if key in RERUN_KEYS}
    if not asked:
        return argv
    from tunelab.errors import UserError

    _recorded.clear()  # each command reads the run afresh (a notebook's second resume too)

    try:
        return _rerun_command(argv, asked)
    except UserError as error:
        raise SystemExit(f"tunelab: {error}") from None


def _rerun_command(argv: list[str], asked: dict[str, str]) -> list[str]:
    from tunelab.errors import ConfigError

    if len(asked) > 1 or any(a in ("-m", "--multirun") for a in argv):
        raise ConfigError("resume= and reproduce= take one run: give one of them, without -m")
    ((kind, run_id),) = asked.items()
    added = [a for a in argv[1:] if override_key(a) not in RERUN_KEYS]
    run = recorded_run(_store_uri(added), run_id)
    overrides = [*_given_secrets(run.overrides, added), *added, f"{kind}={run_id}"]
    if kind == "resume":
        _check_resumable(run)
        overrides.append(f"hydra.run.dir='{run.output_dir}'")
    changes = [
        k
        for k in config_changes(run.config, _composed(overrides, run.output_dir))
        if k not in RERUN_KEYS
    ]
    if kind == "resume" and (changed := [k for k in changes if not _allowed(k)]):
        raise ConfigError(
            f"resume={run_id}: the config differs from the run's in {', '.join(changed[:6])}: a "
            f"resumed run may change only its budget ({', '.join(BUDGET)}); reproduce={run_id} "
            "with those changes trains a new run"
        )
    if kind == "reproduce" and changes:
        log.warning("the config differs from run %s's in %s", run_id, ", ".join(changes[:10]))
    if note := code_change(run):
        log.warning("%s", note)
    return [argv[0], *overrides]


def _allowed(key: str) -> bool:
    allowed = (*BUDGET, *DISPLAY, *BOOKKEEPING, *RERUN_KEYS)
    return any(key == k or key.startswith(f"{k}.") for k in allowed)


def _given_secrets(recorded: list[str], added: list[str]) -> list[str]:
    """The recorded overrides, a masked secret taken from the command (it was never stored)."""
    from tunelab.cli.redact import MASK
    from tunelab.errors import ConfigError

    given = set(overrides_dict(added))
    kept = [o for o in recorded if override_key(o) not in RERUN_KEYS]
    for override in kept:
        key = override_key(override)
        if MASK in override and key not in given:
            raise ConfigError(f"the run's {key} was a secret and is not stored: add {key}=VALUE")
    return [o for o in kept if override_key(o) not in given]


def _store_uri(overrides: list[str]) -> str:
    """tracking.uri as the command composes it (conf/tracking, MLFLOW_TRACKING_URI)."""
    from hydra import compose, initialize_config_dir

    keep = [o for o in overrides if override_key(o).startswith(("tracking.", "paths."))]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return str(compose("train", overrides=keep).tracking.uri)


def recorded_run(uri: str, run_id: str) -> RecordedRun:
    """The run's status, folder, overrides, resolved config and tags, read from the store once."""
    if run_id in _recorded:
        return _recorded[run_id]
    import tempfile

    import yaml
    from mlflow.exceptions import MlflowException

    from tunelab.cli.redact import mask_text
    from tunelab.errors import ConfigError
    from tunelab.tracking.store import open_store

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one line or none
    client = open_store(uri)
    try:
        run = client.get_run(run_id)
        with tempfile.TemporaryDirectory() as folder:
            files = {
                name: yaml.safe_load(
                    Path(client.download_artifacts(run_id, name, folder)).read_text()
                )
                for name in ("overrides.yaml", "config.yaml")
            }
    except MlflowException as error:
        reason = (
            "not found" if "RESOURCE_DOES_NOT_EXIST" in str(error.error_code) else error.message
        )
        raise ConfigError(
            mask_text(f"run {run_id} in tracking.uri={uri}: {reason}: give a run id of this store")
        ) from None
    except OSError:
        raise ConfigError(
            f"run {run_id} has no recorded config (overrides.yaml, config.yaml)"
        ) from None
    recorded = RecordedRun(
        run_id,
        run.info.status,
        run.data.tags.get("hydra.output_dir", ""),
        # Written before a module moved, they name it by its old path: read as today's.
        upgrade_overrides(list(files["overrides.yaml"] or [])),
        upgrade_container(files["config.yaml"] or {}),
        run.data.tags,
    )
    _recorded[run_id] = recorded
    return recorded


def recorded_source(cfg: Any) -> RecordedRun | None:
    """The run a resume= or reproduce= job reruns (None for a new run)."""
    source = cfg.get("resume") or cfg.get("reproduce")
    return recorded_run(cfg.tracking.uri, source) if source else None


def rerun_tags(cfg: Any) -> dict[str, str]:
    """A reproduction names its source; a resumed run says it was resumed."""
    if cfg.get("reproduce"):
        return {"reproduces": str(cfg.reproduce)}
    return {"resumed": "true"} if cfg.get("resume") else {}


# The checkpoints resume= reads, in the order it tries them (tunelab.inference.checkpoint):
# the end of the last full epoch, the state a stopped fit reached, the best epoch.
RESUME_FROM = ("last.ckpt", "interrupted.ckpt", "best.ckpt")


def resumable(output_dir: str | Path) -> str | None:
    """The checkpoint a run in `output_dir` would resume from, if it has one."""
    folder = Path(output_dir) / "checkpoints"
    return next((name for name in RESUME_FROM if (folder / name).exists()), None)


def resume_checkpoint(resume: str | None, callbacks: Any) -> str | None:
    """resume=RUN_ID: the run's last.ckpt, written at the end of its last full epoch. Lightning
    resumes exactly from there (a mid-epoch interrupted.ckpt would replay a partial epoch with
    other batches). None: train from the start (no resume, or killed within its first epoch).
    A damaged last.ckpt (a copy cut short, a disk that failed) is said, and the newest
    readable checkpoint beside it is used instead (RESUME_FROM)."""
    saver = (callbacks or {}).get("model_checkpoint")
    if not resume or not saver or not (Path(saver.dirpath) / RESUME_FROM[0]).exists():
        return None
    damaged: list[str] = []
    for path in (Path(saver.dirpath) / name for name in RESUME_FROM):
        if not path.exists():
            continue
        if (problem := unreadable(path)) is None:
            if damaged:
                log.warning("%s: resuming from %s instead", "; ".join(damaged), path)
            return str(path)
        damaged.append(f"{path} is damaged ({problem})")
    from tunelab.errors import UserError

    raise UserError(
        f"resume={resume}: no readable checkpoint: {'; '.join(damaged)}; reproduce={resume} "
        "trains the run again as a new run"
    )


def unreadable(path: Path) -> str | None:
    """Why the checkpoint file cannot be read back, None when it can (tensors mapped, not
    copied: the check reads little of a large file)."""
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # whatever torch says about a damaged file
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return None


def _check_resumable(run: RecordedRun) -> None:
    from tunelab.errors import ConfigError
    from tunelab.tracking.heartbeat import beat_age, is_dead

    if run.status == "RUNNING" and not is_dead(run.status, run.tags):
        since = f", {age}" if (age := beat_age(run.tags)) else ""
        raise ConfigError(
            f"resume={run.run_id}: the run is RUNNING{since}; resume a run that ended (killed, "
            "failed or finished), or one whose heartbeat stopped (a lost node)"
        )
    if run.status == "RUNNING":
        log.warning("run %s is RUNNING but its heartbeat stopped: its process is gone", run.run_id)
    if not run.output_dir or not Path(run.output_dir).is_dir():
        raise ConfigError(
            f"resume={run.run_id}: its folder {run.output_dir or '(unknown)'} is not on this "
            f"machine, and its checkpoints are there; reproduce={run.run_id} trains it as a new run"
        )


def _composed(overrides: list[str], output_dir: str) -> dict[str, Any]:
    """The resolved config these overrides compose, in `output_dir` (masked as it is stored)."""
    from omegaconf import OmegaConf

    from tunelab.cli.redact import mask_config

    task = [o for o in overrides if not o.startswith("hydra.")]
    return mask_config(OmegaConf.to_container(compose_train(task, output_dir)))


def compose_train(overrides: list[str], output_dir: str, job: str = "train") -> Any:
    """The resolved train config (or `job`'s: eval, export), as `python train.py OVERRIDES`
    sees it with its outputs in `output_dir`, composed in this process (a DictConfig without
    the hydra node)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(job, overrides=overrides, return_hydra_config=True)
    OmegaConf.set_readonly(cfg, False)
    cfg.hydra.runtime.output_dir = output_dir
    HydraConfig.instance().set_config(cfg)  # ${hydra:...} resolves against it
    with open_dict(cfg):
        del cfg.hydra
    OmegaConf.resolve(cfg)
    return cfg


def config_changes(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The dotted keys whose values differ (added or removed keys included), sorted."""
    old, new = dict(_flat(recorded)), dict(_flat(current))
    old |= {k: v for k, v in ADDED_SINCE.items() if k not in old}  # recorded before it existed
    return sorted(
        k for k in old.keys() | new.keys() if old.get(k, "<unset>") != new.get(k, "<unset>")
    )


def _flat(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _flat(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), node


def code_change(run: RecordedRun) -> str | None:
    """What differs between the code that made the run and the code here, if anything."""
    from tunelab.tracking.identity import git_state

    here = git_state(os.environ.get("TUNELAB_ROOT", "."))
    then, now = run.tags.get("git.commit", "unknown"), here["git.commit"]
    if "unknown" in (then, now):
        return f"the code of run {run.run_id} cannot be compared (no git commit recorded or here)"
    if then != now:
        return f"the code differs from run {run.run_id}'s: its commit {then[:10]}, here {now[:10]}"
    if run.tags.get("git.dirty") == "true" or here.get("git.dirty") == "true":
        return (
            f"uncommitted changes: run {run.run_id}'s are in its git.diff artifact, and this "
            "tree's go to the new run's git.diff"
        )
    return None
