"""Who a run is: its readable name, its reproducibility tags, its place in a sweep."""

from dataclasses import dataclass

from hydra.types import RunMode
from omegaconf import DictConfig

from tunelab.tracking.tags import run_tags


@dataclass
class RunIdentity:
    name: str
    tags: dict[str, str]
    parent_run_id: str | None


def run_name(cfg: DictConfig, choices: dict[str, str]) -> str:
    """cnn-adam-lr0.001, plus the scheduler and fold when they are set."""
    if cfg.tracking.get("run_name"):
        return cfg.tracking.run_name
    parts = [
        choices.get("model", "model"),
        choices.get("optimizer", "opt"),
        f"lr{cfg.optimizer.lr:g}",
    ]
    if choices.get("scheduler") not in (None, "none"):
        parts.append(choices["scheduler"])
    if cfg.data.get("num_folds"):
        parts.append(f"fold{cfg.data.fold}")
    return "-".join(parts)


def run_identity(cfg: DictConfig, hydra_cfg) -> RunIdentity:
    from tunelab.tracking.sweep import trial_identity

    choices = {k: str(v) for k, v in hydra_cfg.runtime.choices.items()}
    tags = run_tags(
        cfg.paths.root_dir, list(hydra_cfg.overrides.task), hydra_cfg.runtime.output_dir
    )
    tags.update({f"choice.{k}": v for k, v in choices.items() if not k.startswith("hydra")})
    tags.update({str(k): str(v) for k, v in cfg.tracking.get("tags", {}).items()})
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    parent = None
    if in_sweep:
        parent, trial_tags = trial_identity(hydra_cfg)
        tags.update(trial_tags)
    return RunIdentity(run_name(cfg, choices), tags, parent)
