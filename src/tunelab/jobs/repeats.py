"""repeats=N: one configuration trained N times, each repeat with its own seed (seed, seed+1,
...) or, where data.num_folds is set, its own fold (0 to N-1).

The job's run is the configuration's: its objective is the mean of the repeats' objectives
(objective_std beside it), its test metrics and per-epoch objective are the repeats' means,
and it carries the model of its best repeat (so a sweep registers, promotes and evaluates a
configuration as it would a single run). Each repeat is a run of its own, the child of the
configuration's, with its own folder (repeat-seed43/), config and overrides: `reproduce=` one
trains that repeat alone. A repeat that fails, is pruned or is stopped ends its run as a job's
run ends; the error then ends the configuration's run in the job wrapper (tunelab.jobs.wrapper).
"""

import copy
import math
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from tunelab.cli.overrides import override_key

if TYPE_CHECKING:
    from tunelab.jobs.wrapper import Job
    from tunelab.tracking.run import TrackedRun
    from tunelab.training.pipeline import Trained

# The keys a repeat sets itself: a recorded override of them is replaced, not repeated.
REPEAT_KEYS = ("repeats", "seed", "data.fold")


@dataclass(frozen=True)
class Repeat:
    """One repeat: `seed 43` or `fold 2` (label), the override that trains it alone
    (seed=43, data.fold=2), its folder and its config."""

    label: str
    override: str
    folder: Path
    cfg: DictConfig


def repeat_configs(cfg: DictConfig, output_dir: str) -> Iterator[Repeat]:
    """Each repeat: its seed or fold, one repeat, no resume (a configuration trains its repeats
    again), and its files under its own folder."""
    folds = bool(cfg.data.get("num_folds"))
    for index in range(cfg.repeats):
        key, value = ("data.fold", index) if folds else ("seed", cfg.seed + index)
        label = f"{'fold' if folds else 'seed'} {value}"
        folder = Path(output_dir) / f"repeat-{label.replace(' ', '')}"
        repeat = copy.deepcopy(cfg)
        with open_dict(repeat):
            repeat.repeats, repeat.resume = 1, None
            OmegaConf.update(repeat, key, value)
            move_files(repeat, output_dir, folder)
        yield Repeat(label, f"{key}={value}", folder, repeat)


def move_files(cfg: DictConfig, output_dir: str, folder: Path) -> None:
    """Point every `dirpath` under the job's folder (checkpoints, a profiler's reports) at the
    repeat's folder: each repeat keeps its own best.ckpt and last.ckpt."""
    for group in ("callbacks", "trainer"):
        for node in (cfg.get(group) or {}).values():
            if isinstance(node, DictConfig) and isinstance(node.get("dirpath"), str):
                where = str(node.dirpath)
                if where.startswith(output_dir):
                    node.dirpath = str(folder) + where[len(output_dir) :]


def repeat_overrides(overrides: list[str], repeat: Repeat) -> list[str]:
    """The job's command-line overrides as the repeat's own: what trains it alone."""
    kept = [o for o in overrides if override_key(o) not in REPEAT_KEYS]
    return [*kept, "repeats=1", repeat.override]


def train_repeats(cfg: DictConfig, job: "Job", costs: Callable[..., Any] | None = None) -> float:
    """Train cfg's repeats one after another, each in its own run under the job's; log their
    means on the job's run; return the mean objective. costs: what measures each one's cost/*
    (tunelab.export.cost.measure_cost), or None."""
    from tunelab.sweeps.curves import RepeatCurves
    from tunelab.training.pipeline import train

    assert job.run is not None  # the configuration's run, opened by the job
    job.run.wait_started()  # a store that refuses runs: one line, before any repeat
    curves, done = RepeatCurves(), []
    try:
        for repeat in repeat_configs(cfg, job.output_dir):
            curves.start_repeat()
            run, started = open_repeat_run(repeat, job), time.time()
            try:
                trained = train(repeat.cfg, run, quiet=True, curves=curves, measure_cost=costs)
            except BaseException as error:
                end_repeat_run(run, job, error)
                raise
            finally:
                job.run.training_started |= run.training_started
            end_repeat_run(run, job, None)
            done.append((repeat.label, run, trained))
            if not job.in_sweep:
                print(
                    f"{repeat.label}: {job.objective_name} {trained.objective:.4f} "
                    f"({time.time() - started:.1f} s)",
                    flush=True,
                )
    finally:
        for epoch, value in curves.mean().items():  # the configuration's curve: the mean
            job.run.log_metrics({cfg.objective.metric: value}, step=epoch)
    return log_means(job, cfg, done)


def open_repeat_run(repeat: Repeat, job: "Job") -> "TrackedRun":
    """The repeat's run: the child of the job's, named after it with its seed or fold, written
    by a writer of its own (a writer serves one run at a time), no MLflow model of its own."""
    from tunelab.cli.redact import mask_text
    from tunelab.jobs.wrapper import resolved_config
    from tunelab.tracking.identity import data_label, job_identity
    from tunelab.tracking.run import open_run

    assert job.run is not None
    cfg, folder, hydra_cfg = repeat.cfg, repeat.folder, job.hydra_cfg
    overrides = [mask_text(o) for o in repeat_overrides(list(hydra_cfg.overrides.task), repeat)]
    (folder / ".hydra").mkdir(parents=True, exist_ok=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    data = data_label(cfg, hydra_cfg.runtime.choices.get("data"))
    identity = job_identity(hydra_cfg, cfg.paths.root_dir, None, None, data)
    identity.name = f"{job.run.start_request.name} · {repeat.label}"
    identity.parent_run_id = job.run.run_id
    identity.tags.update(
        {
            "hydra.overrides": " ".join(overrides),
            "hydra.output_dir": str(folder),
            "repeat": repeat.label,
            "repeat.of": str(job.run.run_id),
        }
    )
    config = resolved_config(cfg)
    return open_run(cfg.tracking, config, identity, folder, slot="repeat", log_model=False)


def end_repeat_run(run: "TrackedRun", job: "Job", error: BaseException | None) -> None:
    """The repeat's run ends as a job's run ends (tunelab.jobs.wrapper.end_run); a pruned one
    records its own objective, not the mean the pruner judged."""
    from tunelab.errors import UserError
    from tunelab.jobs.wrapper import end_run, how_it_ended
    from tunelab.sweeps.pruning_callback import Pruned

    ended = how_it_ended(error)
    if isinstance(error, Pruned):
        error = Pruned(error.epoch, error.own)
    mistake = isinstance(error, UserError) and not job.in_sweep and not run.training_started
    end_run(run, ended, error, delete=mistake)


def log_means(
    job: "Job", cfg: DictConfig, done: list[tuple[str, "TrackedRun", "Trained"]]
) -> float:
    """The repeats' mean objective and test metrics on the job's run, the spread of the
    objective, and the model of the best repeat; the console's results."""
    from tunelab.cli.console import print_results

    assert job.run is not None
    objectives = [trained.objective for _, _, trained in done]
    mean = statistics.fmean(objectives)
    std = statistics.stdev(objectives) if len(objectives) > 1 else 0.0
    test = {
        key: statistics.fmean(trained.test[key] for _, _, trained in done)
        for key in done[0][2].test
        if key.startswith("test/")  # not Lightning's `step`
    }
    costs = {
        key: statistics.fmean(trained.costs[key] for _, _, trained in done)
        for key in done[0][2].costs
    }
    pick = max if cfg.objective.mode == "max" else min
    label, best_run, best = pick(done, key=lambda d: nan_last(d[2].objective, cfg.objective.mode))
    job.run.log_metrics({**test, "objective_std": std})
    job.run.log_costs(costs, str(cfg.cost.runtime))
    job.results = {**test, **costs}
    job.run.log_results(mean, epochs=round(statistics.fmean(t.epochs for _, _, t in done)))
    job.run.set_tags(
        {
            "repeats": f"{len(done)}: " + ", ".join(label for label, _, _ in done),
            "repeats.model_from": f"{best_run.run_id} ({label})",
        }
    )
    job.run.log_checkpoint(best.checkpoint)
    # No metrics linked to the model: the run's are the means, its own are its repeat's.
    job.run.log_model(best.checkpoint, best.metadata, best.example, {})
    what = "folds" if cfg.data.get("num_folds") else "seeds"
    job.spread = f" ± {std:.4f} ({len(done)} {what})"
    if not job.in_sweep:
        title = f"test, mean of {len(done)} {what}"
        print_results(test, f"{cfg.objective.metric}_best", mean, title, job.spread)
    return mean


def nan_last(value: float, mode: str) -> float:
    """A NaN objective sorts as the worst."""
    if math.isnan(value):
        return -math.inf if mode == "max" else math.inf
    return value
