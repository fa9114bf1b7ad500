"""The Hydra callback that makes a multirun one MLflow parent run with a child per trial."""

import atexit
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from tunelab.cli.runtime import received_signals, stop_signal_name
from tunelab.sweeps.requests import FinishedRuns, FinishParent, OpenParent
from tunelab.sweeps.state import (
    PARENT_FILE,
    STATES,
    plain,
    sweep_identity,
    swept_keys,
    trials_run_here,
    write_swept_keys,
)
from tunelab.tracking.requests import Request

log = logging.getLogger(__name__)

# The module each entry point's trials run (hydra.job.name: the script's name).
JOBS = {
    "train": "tunelab.training.pipeline",
    "export": "tunelab.export.variants",
    "baseline": "tunelab.analysis.baselines",
}


def sweep_storage_error(config: DictConfig) -> str | None:
    """The Optuna sweeper's storage, a database URL whose server cannot be reached: one line,
    checked before the sweep opens its run (Optuna would fail at its first trial)."""
    from tunelab.tracking.reachable import database_problem, is_database_url

    storage = config.hydra.sweeper.get("storage") or ""
    if not is_database_url(storage):
        return None
    if problem := database_problem(storage):
        return f"hydra.sweeper.storage={storage}: {problem}: start the database or fix the URL"
    return None


def search_error(config: DictConfig) -> str | None:
    """The sweep's settings that cannot work, as one line before any trial: repeats below 1,
    the Optuna sweeper's budget out of range, a choice's own space
    (tunelab.sweeps.choice_spaces)."""
    sweeper = config.hydra.sweeper
    repeats = config.get("repeats", 1)  # training's key (eval.py and export.py have none)
    if not (isinstance(repeats, int) and not isinstance(repeats, bool) and repeats >= 1):
        return f"repeats={repeats}: must be a whole number >= 1 (the trainings of each trial)"
    if "optuna" not in str(sweeper.get("_target_", "")):
        return None
    limits = (("timeout", False, "seconds"), ("patience", True, "a whole number of trials"))
    for key, whole, what in (*limits, ("repeats", True, "a whole number of trainings")):
        value = sweeper.get(key)
        number = isinstance(value, int) if whole else isinstance(value, int | float)
        if value is not None and (isinstance(value, bool) or not number or value <= 0):
            shown = f"{value:g}" if isinstance(value, float) else value
            unset = "the config's repeats" if key == "repeats" else "no limit"
            return f"hydra.sweeper.{key}={shown}: must be {what} above 0, or null for {unset}"
    from tunelab.sweeps.choice_spaces import choice_space_problem

    return tradeoff_problem(config) or choice_space_problem(config)


# Samplers that take a constraints_func, and one that cannot search several objectives.
CONSTRAINED = ("TPESampler", "GPSampler", "NSGAIISampler", "NSGAIIISampler")
SINGLE_OBJECTIVE = ("CmaEsSampler",)


def tradeoff_problem(config: DictConfig) -> str | None:
    """Several objectives (objective.more) or constraints the sweeper cannot work with."""
    from tunelab.sweeps.objectives import (
        COSTS,
        INT8_COSTS,
        objective_problems,
        objectives,
        parse_constraints,
    )

    sweeper = config.hydra.sweeper
    if "cost" not in config:  # an evaluation's or export's sweep: one objective, no costs
        return None
    if problem := next(iter(objective_problems(config)), None):
        return problem
    try:
        constraints = parse_constraints(plain(sweeper.get("constraints")))
    except ValueError as error:
        return str(error)
    allowed = (*COSTS, *(INT8_COSTS if config.cost.int8 else ()), config.objective.metric)
    for constraint in constraints:
        if constraint.metric not in allowed:
            return (
                f"hydra.sweeper.constraints: {constraint.metric} is not a metric a trial "
                f"measures once: allowed: {', '.join(allowed)}"
            )
    sampler = str(sweeper.sampler.get("_target_", "")).rsplit(".", 1)[-1]
    if constraints and sampler not in CONSTRAINED:
        return f"hydra.sweeper.constraints need a sampler that takes them: tpe, gp, nsga2 or nsga3, not {sampler}"
    costs = [c.metric for c in constraints if c.metric != config.objective.metric]
    if costs and config.cost.measure is False:
        return f"hydra.sweeper.constraints name {', '.join(costs)} and cost.measure=false: set cost.measure=auto"
    if len(objectives(config.objective)) > 1:
        pruner = str(sweeper.pruner.get("_target_", "")).rsplit(".", 1)[-1]
        if pruner != "NopPruner":
            return (
                f"objective.more makes a study of several objectives, which Optuna's {pruner} "
                "cannot prune (it judges one): add hydra/sweeper/pruner=none"
            )
        if sampler in SINGLE_OBJECTIVE:
            return f"objective.more: {sampler} searches one objective: use nsga2, tpe or gp"
    return None


def objective_spec(config: DictConfig) -> dict[str, Any]:
    """What the sweep's summary ranks trials by: the objective, the further ones (objective.more)
    and the Optuna sweeper's constraints, as plain values."""
    objective = config.objective
    more = [[str(o["metric"]), str(o["mode"])] for o in objective.get("more") or []]
    constraints = [str(c) for c in config.hydra.sweeper.get("constraints") or []]
    return {
        "metric": objective.metric,
        "mode": objective.mode,
        "more": more,
        "constraints": constraints,
    }


class MLflowSweepCallback(Callback):
    """on_multirun_start opens the parent run; on_multirun_end writes its summary and ends it.

    The MLflow work happens in the writer process the trials use (tunelab.sweeps.parent, through
    RunWriter.call), so the process that runs the trials never imports MLflow.
    A sweep that dies (a trial raising with on_trial_error=stop, Ctrl-C) never reaches
    on_multirun_end, so an exit handler ends the parent then: KILLED on Ctrl-C, FAILED otherwise.
    """

    def __init__(self) -> None:
        self.parent_run_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from tunelab.cli.redact import mask_logs, mask_text

        mask_logs()  # Hydra logs each trial's overrides as it launches it
        quiet_launchers()
        if problem := sweep_storage_error(config) or search_error(config):
            raise SystemExit(mask_text(f"tunelab: {problem}"))  # before the sweep's run opens
        self.config = config
        if warm := config.hydra.sweeper.get("warm_start"):  # names something in the store?
            self._ask(FinishedRuns(config.tracking.uri, plain(warm), curves=False))(opening=True)
        overrides = list(config.hydra.overrides.task)
        swept = swept_keys(overrides, config.hydra.sweeper.get("params"))
        identity = sweep_identity(config, overrides, swept)
        sweep_dir = Path(config.hydra.sweep.dir)
        grid = "optuna" not in str(config.hydra.sweeper.get("_target_", ""))
        in_process = trials_run_here(config.hydra)
        answer = self._ask(
            OpenParent(
                config.tracking.uri,
                config.tracking.experiment,
                identity.name,
                identity.tags,
                str(sweep_dir),
                grid,
            )
        )
        job = JOBS.get(config.hydra.job.name)
        if in_process and job:  # the first trial's imports, while the writer imports MLflow
            import importlib

            from tunelab.cli.runtime import import_lightning, imports_frozen_out_of_gc

            with imports_frozen_out_of_gc():
                if job != JOBS["baseline"]:  # first, as a single run does (no scipy.signal)
                    import_lightning()
                importlib.import_module(job)
        opened = answer(opening=True)
        for stale in opened["stale"]:
            log.warning("ended sweep run %s KILLED: its process had died without ending it", stale)
        if opened["continued"]:
            log.info(opened["continued"])
        self.parent_run_id, self.experiment_id = opened["run_id"], opened["experiment_id"]
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / PARENT_FILE).write_text(str(self.parent_run_id))
        write_swept_keys(sweep_dir, swept)
        if not in_process:
            from tunelab.tracking.run import close_writer

            close_writer()  # the trials run elsewhere, with writers of their own
        atexit.register(self._end_unfinished)
        # Between trials (and in a launcher that runs them elsewhere) the stop signals reach
        # this process here; during an in-process trial, its job's handlers record them.
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        log.info("MLflow parent run %s: %s", self.parent_run_id, identity.name)

    def _ask(self, request: Request) -> Callable[..., Any]:
        """Send the writer process `request` (it has MLflow loaded; this process does not);
        the function that waits for its answer."""
        from tunelab.cli.redact import mask_text
        from tunelab.tracking.run import ask, open_writer

        uri = self.config.tracking.uri
        reply = ask(open_writer(self.config.tracking.writer), request)

        def answer(opening: bool = False) -> Any:
            ok, value = reply()
            if not ok and opening:  # the store cannot be used: one line, before any trial
                where = "" if "hydra.sweeper." in str(value) else f"tracking.uri={uri}: "
                raise SystemExit(mask_text(f"tunelab: the sweep cannot use {where}{value}"))
            if not ok:
                raise RuntimeError(f"the sweep's parent run: {value}")
            return value

        return answer

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent_run_id is None:
            return
        self._finish("FINISHED")
        atexit.unregister(self._end_unfinished)

    def _on_signal(self, signum, frame) -> None:
        received_signals.append(signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)  # SIGTERM: the sweep exits as a shell reports it

    def _end_unfinished(self) -> None:
        """At exit, a sweep that never reached on_multirun_end: KILLED by a signal (which one is
        tagged), FAILED otherwise."""
        self._finish("KILLED" if stop_signal_name() else "FAILED")

    def _finish(self, status: str) -> None:
        from tunelab.cli.console import print_run
        from tunelab.tracking.run import settle_ended_runs

        run_id = self.parent_run_id
        assert run_id is not None  # set by on_multirun_start
        settle_ended_runs()  # the trials' runs, ended while the next trial ran
        sweep_dir = Path(self.config.hydra.sweep.dir)
        tracking = self.config.tracking
        register = (
            {"name": str(tracking.sweep_model), "alias": str(tracking.sweep_alias)}
            if status == "FINISHED" and tracking.get("sweep_model")
            else None
        )
        summary, registered = self._ask(
            FinishParent(
                self.config.tracking.uri,
                self.experiment_id,
                run_id,
                status,
                objective_spec(self.config),
                str(sweep_dir / "summary"),
                search_lines(self.config),
                register,
                stop_signal_name(),
                promotion(self.config),
            )
        )()
        self.parent_run_id = None
        counts = ", ".join(
            f"{summary[f'trials_{state}']} {state}"
            for state in STATES
            if summary[f"trials_{state}"] or state in ("finished", "failed")
        )
        print(f"sweep {status.lower()}: {summary['trials_total']} trials: {counts}")
        if "best.overrides" in summary:
            # A training's objective is its best epoch's value (what its trial line names);
            # an export's variant metric and a baseline's single fit have no epochs.
            best = "_best" if self.config.hydra.job.name == "train" else ""
            objective = f"{self.config.objective.metric}{best} {summary['best_objective']:.4f}"
            if "best_objective_std" in summary:
                objective += f" ± {summary['best_objective_std']:.4f}"
            print(f"best trial #{summary['best.trial']}, {objective}: {summary['best.overrides']}")
        if "best_fold.overrides" in summary:
            print(
                f"best fold group: {summary['best_fold.overrides']} -> "
                f"{summary['best_fold_mean']:.4f} +- {summary['best_fold_std']:.4f}"
            )
        for key, value in registered.items():
            if not key.endswith(".version"):  # said in registered_model's line
                print(f"{key}: {value}")
        print(f"summary in {sweep_dir / 'summary'}")
        print_run(run_id, self.experiment_id, tracking.uri, "MLflow parent run")


# Launchers that log every job's overrides as they start it: each trial prints one line with
# its values when it ends (tunelab.jobs.wrapper.print_trial_line); their warnings still show.
LAUNCHER_LOGGERS = (
    "hydra._internal.core_plugins.basic_launcher",
    "hydra_plugins.hydra_joblib_launcher._core",
    "hydra_plugins.tunelab_ray_launcher._core",
)


def quiet_launchers() -> None:
    for name in LAUNCHER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def promotion(config: DictConfig) -> dict[str, str] | None:
    """Where the best trial's config goes (promote_to, conf/train.yaml) and the config folder it
    is composed from; None: no file (promote_to=null, or eval and export sweeps)."""
    conf = next(
        (str(s.path) for s in config.hydra.runtime.config_sources if s.provider == "main"), None
    )
    to = config.get("promote_to")
    return {"conf": conf, "to": str(to)} if to and conf else None


def search_lines(config: DictConfig) -> dict[str, str]:
    """What the sweep searched, for its note: each swept key with its values or distribution,
    then the sweeper, its sampler and pruner (Optuna) and the launcher, by class name."""
    from tunelab.cli.overrides import is_sweep, overrides_dict
    from tunelab.cli.redact import mask_text

    sweeper = config.hydra.sweeper
    swept = [o for o in config.hydra.overrides.task if is_sweep(o)]
    lines = {key: mask_text(value) for key, value in overrides_dict(swept).items()}
    lines |= {str(k): str(v) for k, v in (sweeper.get("params") or {}).items()}
    for role, node in (
        ("sweeper", sweeper),
        ("sampler", sweeper.get("sampler")),
        ("pruner", sweeper.get("pruner")),
        ("launcher", config.hydra.launcher),
    ):
        if node and node.get("_target_"):
            lines[role] = str(node["_target_"]).rsplit(".", 1)[-1]
    return lines
