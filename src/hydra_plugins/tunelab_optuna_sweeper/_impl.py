"""The search: ask Optuna for trials, run them through Hydra's launcher, tell Optuna the results."""

import itertools
import json
import logging
import math
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from hydra_plugins.tunelab_optuna_sweeper._search_space import (
    SearchSpace,
    conditional_space,
    grid_of,
    knob_key,
    split_search_space,
)
from hydra_plugins.tunelab_optuna_sweeper._start import (
    WARM_ATTR,
    add_runs,
    current_point,
    enqueue,
)
from tunelab.cli.overrides import is_sweep, overrides_dict
from tunelab.cli.runtime import process_gone, this_process
from tunelab.errors import instantiate
from tunelab.sweeps.choice_spaces import ChoiceSpace, choice_spaces, space_folders
from tunelab.sweeps.objectives import DIRECTIONS, objectives, parse_constraints, values_of
from tunelab.sweeps.pruning import JOURNAL_SUFFIX, STUDY_FILE, TRIAL_ENV, open_storage
from tunelab.sweeps.state import add_swept_keys, plain

log = logging.getLogger(__name__)

# This sweeper asks and tells, and beats for its trials itself (TrialBeats): Optuna's warning
# that heartbeats belong to Study.optimize, and that they are experimental, do not apply.
warnings.filterwarnings("ignore", "Heartbeat of storage is supposed", UserWarning)
warnings.filterwarnings(
    "ignore", ".*fail_stale_trials is experimental", optuna.exceptions.ExperimentalWarning
)
# TPE's `group` (conditional spaces) and GPSampler are marked experimental since Optuna 2.8 / 3.6.
warnings.filterwarnings(
    "ignore",
    r"(Argument ``group``|GPSampler) is (an )?experimental",
    optuna.exceptions.ExperimentalWarning,
)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class OptunaSearch:
    def __init__(
        self,
        hydra_context: Any,
        task_function: Any,
        config: DictConfig,
        sampler: Any,
        pruner: Any,
        direction: str | None,
        study_name: str | None,
        storage: str | None,
        n_trials: int,
        n_jobs: int,
        retries: int,
        refill: bool,
        params: dict[str, str] | None,
        timeout: float | None = None,
        patience: int | None = None,
        repeats: int | None = None,
        constraints: Any = None,
        warm_start: Any = None,
        enqueue_current: bool = True,
        enqueue: Any = None,
        lr_find: bool = False,
    ) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        self.sampler_cfg, self.pruner_cfg = sampler, pruner
        self.direction = direction or DIRECTIONS[config.objective.mode]
        # objective.more: a study of several objectives, told each from the trial's cost/*
        self.more = objectives(config.objective)[1:]
        self.constraints = parse_constraints(plain(constraints))
        self.study_name = study_name or config.tracking.experiment
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.storage = storage or str(self.sweep_dir / f"optuna{JOURNAL_SUFFIX}")
        self.beats = TrialBeats(float(config.tracking.get("heartbeat_seconds") or 0))
        self.n_trials, self.n_jobs, self.retries = n_trials, max(1, n_jobs), max(0, retries)
        self.params = dict(params or {})
        self.refill = refill
        self.budget = Budget(timeout, patience)
        self.repeats = repeats
        self.warm_start, self.enqueue = plain(warm_start), list(plain(enqueue) or [])
        self.enqueue_current = enqueue_current
        self.lr_find = lr_find
        self.notes: dict[str, str] = {}  # what the parent run records: the study's start, its stop

    def run(self, arguments: list[str]) -> list[JobReturn]:
        # Optuna's own INFO lines ("A new study created ...") say what the line below says.
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        searched, fixed = split_search_space(self.params, arguments, parser)
        if self.repeats is not None:  # every trial's job trains repeats=N (tunelab.jobs.repeats)
            fixed = [*fixed, f"repeats={self.repeats}"]
        space = conditional_space(searched, self.choice_spaces(arguments), parser)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        if self.lr_find:
            self.narrow_lr(space)
        add_swept_keys(self.sweep_dir, space.searched_keys())  # trial names show the choices' knobs
        OmegaConf.save(self.config, self.sweep_dir / "multirun.yaml")
        study = self.open_study(space)
        for stale in fail_stale_trials(study):
            log.warning(f"trial {stale} was left RUNNING by a sweep that died: FAIL, asked again")
        self.start(study, space, fixed)
        log.info(
            f"study {self.study_name!r} in {self.storage}: "
            f"{trials_done(study)} trials done, {self.n_trials} wanted"
        )
        self.budget.start()
        if self.n_jobs > 1 and self.refill and runs_jobs_concurrently(self.launcher):
            returns = self.run_refilling(study, space, fixed)
        else:
            returns = self.run_batches(study, space, fixed)
        if self.budget.stopped_by:
            log.info(
                f"the search stopped before n_trials={self.n_trials}: {self.budget.stopped_by}"
            )
            self.notes["sweep.stopped_by"] = self.budget.stopped_by
        self.finish(study, space)
        return returns

    def narrow_lr(self, space: SearchSpace) -> None:
        """hydra.sweeper.lr_find: the learning-rate finder on the sweep's config, then
        optimizer.lr searched over a decade around its suggestion; said on the console and
        recorded on the parent run. The finder's plot is in the sweep folder (lr_find/)."""
        from tunelab.cli.console import quiet_library_noise
        from tunelab.training.lr_find import find_learning_rate

        if "optimizer.lr" not in space.always:
            raise ValueError(
                "hydra.sweeper.lr_find=true narrows optimizer.lr: search it in "
                "hydra.sweeper.params (optimizer.lr: tag(log, interval(1e-4, 1e-1)))"
            )
        folder = self.sweep_dir / "lr_find"
        quiet_library_noise()  # as a training process does (this one trains the finder)
        found = find_learning_rate(self.config, folder)
        folder.mkdir(parents=True, exist_ok=True)
        found.figure.savefig(folder / "lr_find.png", dpi=120, bbox_inches="tight")
        before = space.always["optimizer.lr"]
        low, high = found.suggestion / 10**0.5, found.suggestion * 10**0.5
        space.always["optimizer.lr"] = optuna.distributions.FloatDistribution(low, high, log=True)
        line = (
            f"lr_find: suggested optimizer.lr={found.suggestion:.3g}; searched in "
            f"[{low:.3g}, {high:.3g}], a decade around it (params said "
            f"[{before.low:.3g}, {before.high:.3g}])"  # type: ignore[attr-defined]
        )
        log.info(line)
        self.notes["sweep.lr_find"] = line

    def start(self, study: optuna.Study, space: SearchSpace, fixed: list[str]) -> None:
        """Earlier runs inside the space as complete trials (warm_start), then the current
        config and the chosen points asked first (enqueue_current, enqueue); said on the
        console and recorded on the parent run."""
        if self.warm_start:
            runs = self.finished_runs(self.warm_start)
            objective = {"metric": self.config.objective.metric, "mode": self.config.objective.mode}
            given = overrides_dict(fixed)
            # Runs of another number of repeats measured the same objective, with more noise.
            others = ("hparams_search", "experiment", "repeats")
            same = {k: v for k, v in given.items() if k not in others}
            finished, pruned, skipped = add_runs(study, space, runs, same, objective)
            line = (
                f"warm start from {self.warm_start}: {finished} finished and {pruned} pruned "
                f"runs added to the study, {skipped} outside the space or trained otherwise skipped"
            )
            log.info(line)
            self.notes["sweep.warm_start"] = line
        if self.sampler_cfg._target_.endswith("GridSampler"):
            return  # a grid walks its own points
        points: list[tuple[dict, str]] = (
            [({}, "the current config")] if self.enqueue_current else []
        )
        points += [(dict(p), f"hydra.sweeper.enqueue {p}") for p in self.enqueue]
        asked = []
        for given_values, what in points:
            point = current_point(space, self.config, given_values)
            if point is None:
                log.info(f"{what} is outside the search space: not asked")
                continue
            asked.append(what if enqueue(study, point) else f"{what} (in the study already)")
        if asked:
            self.notes["sweep.enqueued"] = "; ".join(asked)

    def finished_runs(self, source: Any) -> list[dict[str, Any]]:
        """The store's finished runs `source` names, read by the MLflow writer process."""
        from tunelab.sweeps.requests import FinishedRuns
        from tunelab.tracking.run import ask, open_writer

        writer = open_writer(self.config.tracking.writer)
        ok, value = ask(writer, FinishedRuns(self.config.tracking.uri, source))()
        if not ok:
            raise ValueError(f"hydra.sweeper.warm_start={source}: {value}")
        return value

    def choice_spaces(self, arguments: list[str]) -> list[ChoiceSpace]:
        """The spaces of the choices this search can pick (tunelab.sweeps.choice_spaces)."""
        searched = {**self.params, **overrides_dict(filter(is_sweep, arguments))}
        return choice_spaces(searched, space_folders(self.config.hydra.runtime.config_sources))

    def run_batches(
        self, study: optuna.Study, space: SearchSpace, fixed: list[str]
    ) -> list[JobReturn]:
        """n_jobs trials asked at once, launched together, told when the whole batch ended."""
        returns: list[JobReturn] = []
        done = trials_done(study)
        while done < self.n_trials and not self.budget.spent(study):
            trials = [self.ask(study, space) for _ in range(min(self.n_jobs, self.n_trials - done))]
            batch = [self.trial_overrides(trial, fixed) for trial in trials]
            results = self.launcher.launch(batch, initial_job_idx=len(returns))
            for trial, result in zip(trials, results, strict=True):
                self.tell(study, trial, result)
            done = trials_done(study)
            returns.extend(results)
        return returns

    def run_refilling(
        self, study: optuna.Study, space: SearchSpace, fixed: list[str]
    ) -> list[JobReturn]:
        """n_jobs slots, each launching one trial at a time: the next trial is asked for the
        moment any trial ends (complete, pruned or failed), so no slot waits for the slowest
        trial of a batch. Optuna's own study.optimize(n_jobs=N) keeps N threads busy the same
        way; it is not used because its objective runs in this process, not in a launcher."""
        lock = threading.Lock()  # asks, tells and the counts: one slot at a time
        returns: dict[int, JobReturn] = {}
        numbers = itertools.count()  # the jobs' numbers (their folders), in the order asked
        running: set[int] = set()
        stopped: list[BaseException] = []

        def slot() -> None:
            while True:
                with lock:
                    if stopped or trials_done(study) + len(running) >= self.n_trials:
                        return
                    if self.budget.spent(study):  # the running trials finish; none starts
                        return
                    trial, number = self.ask(study, space), next(numbers)
                    running.add(number)
                try:
                    overrides = [self.trial_overrides(trial, fixed)]
                    (result,) = launch_once(self.launcher, overrides, number)
                    with lock:  # told and no longer running in one step: the counts agree
                        returns[number] = result
                        running.discard(number)
                        self.tell(study, trial, result)
                except BaseException as error:  # on_trial_error=stop, a launcher's error
                    with lock:
                        running.discard(number)
                        stopped.append(error)  # no slot asks again
                    raise

        with ThreadPoolExecutor(self.n_jobs, thread_name_prefix="trial-slot") as pool:
            slots = [pool.submit(slot) for _ in range(self.n_jobs)]
            try:
                for ended in slots:
                    ended.result()  # a slot's error, raised once every slot has returned
            except BaseException as error:  # Ctrl-C: the running trials end, none is asked
                stopped.append(error)
                raise
        return [returns[idx] for idx in sorted(returns)]

    def open_study(self, space: SearchSpace) -> optuna.Study:
        if self.storage.endswith(JOURNAL_SUFFIX):
            Path(self.storage).parent.mkdir(parents=True, exist_ok=True)
        storage = open_storage(self.storage, self.beats.seconds, on_stale=retry_stale)
        self.beats.storage = storage
        directions = [self.direction, *(DIRECTIONS[o.mode] for o in self.more)]
        study = optuna.create_study(
            study_name=self.study_name,
            storage=storage,
            sampler=self.sampler(space),
            pruner=instantiate(self.pruner_cfg),
            directions=directions,  # type: ignore[arg-type]  # maximize or minimize each
            load_if_exists=True,
        )
        pruner = OmegaConf.to_container(self.pruner_cfg, resolve=True)
        spec = {"study_name": self.study_name, "storage": self.storage, "pruner": pruner}
        (self.sweep_dir / STUDY_FILE).write_text(json.dumps(spec))
        return study

    def sampler(self, space: SearchSpace) -> optuna.samplers.BaseSampler:
        if self.constraints:  # samplers that take them: checked before the sweep (search_error)
            return instantiate(self.sampler_cfg, constraints_func=self.constraint_values)
        if not self.sampler_cfg._target_.endswith("GridSampler"):
            return instantiate(self.sampler_cfg)
        if space.conditional:  # a grid is one fixed set of keys
            group, choice = next(iter(space.by_choice))
            raise ValueError(
                f"hydra/sweeper/sampler=grid cannot search {group}={choice}'s own space (its keys "
                "exist in some trials only): use tpe or random, or list the combinations"
            )
        grid = grid_of(space.always)
        points = math.prod(len(values) for values in grid.values())
        if points < self.n_trials:
            log.info(f"the grid has {points} points: n_trials lowered from {self.n_trials}")
            self.n_trials = points
        return instantiate(self.sampler_cfg, search_space=grid)

    def ask(self, study: optuna.Study, space: SearchSpace) -> optuna.Trial:
        """The next trial (a retry enqueued earlier comes first), its values sampled (a
        choice's own knobs only when it is picked), marked with the process that runs it and
        beating while it runs, so that a later sweep can tell whether a RUNNING trial is still
        alive."""
        if space.conditional:
            trial = study.ask()
            space.sample(trial)
        else:
            trial = study.ask(space.always)
        trial.set_user_attr(PROCESS_ATTR, this_process())
        self.beats.start(trial)
        return trial

    @staticmethod
    def trial_overrides(trial: optuna.Trial, fixed: list[str]) -> list[str]:
        chosen = [f"{knob_key(name)}={value}" for name, value in trial.params.items()]
        # The trial's number reaches its job as an environment variable, not a config key, so
        # runs keep clean overrides and params.
        return [*fixed, *chosen, f"++hydra.job.env_set.{TRIAL_ENV}={trial.number}"]

    def tell(self, study: optuna.Study, trial: optuna.Trial, result: JobReturn) -> None:
        """COMPLETE with the returned objective; FAIL for an error or NaN; a trial the job
        already recorded as PRUNED stays so."""
        self.beats.stop(trial)
        value = result.return_value if result.status == JobStatus.COMPLETED else None
        values: list[float] = []
        if isinstance(value, int | float):
            # the job's cost/*, read back from the storage only when the study is told them
            measured = study._storage.get_trial(trial._trial_id).user_attrs if self.more else {}
            values = values_of(measured, value, self.more)
        if values and all(math.isfinite(v) for v in values):
            frozen = tell_once(study, trial, values=[float(v) for v in values])
        else:
            frozen = tell_once(study, trial, state=TrialState.FAIL)
        # The trial printed its own line as it ended (tunelab.jobs.wrapper.print_trial_line).
        log.debug(f"trial {trial.number} {frozen.state.name}: {trial.params} -> {value}")
        attempt = frozen.user_attrs.get(RETRY_ATTR, 0)
        if frozen.state == TrialState.FAIL and attempt < self.retries:
            log.info(f"trial {trial.number} asked again ({attempt + 1} of {self.retries} retries)")
            ask_again(study, frozen, attempt + 1)
        if result.status == JobStatus.FAILED and self.config.get("on_trial_error") == "stop":
            _ = result.return_value  # re-raises the trial's error: the sweep stops here

    def constraint_values(self, trial: optuna.trial.FrozenTrial) -> list[float]:
        """Optuna's constraints_func: each constraint's excess (<= 0: satisfied), from the
        trial's objective and the cost/* its job recorded (tunelab.sweeps.pruning.record_results)."""
        measured = {**trial.user_attrs}
        if trial.values:
            measured[self.config.objective.metric] = trial.values[0]
        return [c.excess(measured.get(c.metric)) for c in self.constraints]

    def finish(self, study: optuna.Study, space: SearchSpace) -> None:
        completed = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
        results: dict[str, Any] = {
            "name": "optuna",
            "study_name": self.study_name,
            "storage": self.storage,
        }
        if completed and not self.more:
            results |= {"best_params": study.best_params, "best_value": study.best_value}
        elif completed:  # several objectives: the Pareto-optimal trials
            results["best_trials"] = [t.number for t in study.best_trials]
        if self.budget.stopped_by:
            results["stopped_by"] = self.budget.stopped_by
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / "optimization_results.yaml")
        # Imported at the end: MLflow stays out of this process while the trials run.
        from tunelab.sweeps.study_summary import log_study_summary

        log_study_summary(study, self.config, self.sweep_dir, self.notes)


class Budget:
    """When a study stops asking before n_trials: after `timeout` seconds of this sweep, or
    after `patience` finished trials in a row without a new best. Running trials finish."""

    def __init__(self, timeout: float | None, patience: int | None) -> None:
        self.timeout, self.patience = timeout, patience
        self.started = time.monotonic()
        self.stopped_by: str | None = None  # why, once spent

    def start(self) -> None:
        self.started = time.monotonic()

    def spent(self, study: optuna.Study) -> bool:
        if self.timeout is not None and time.monotonic() - self.started >= self.timeout:
            self.stopped_by = f"hydra.sweeper.timeout={self.timeout:g} s reached"
        elif self.patience and (since := trials_since_best(study)) >= self.patience:
            self.stopped_by = (
                f"no new best in the last {since} finished trials (hydra.sweeper.patience="
                f"{self.patience})"
            )
        return self.stopped_by is not None


def trials_since_best(study: optuna.Study) -> int:
    """Trials finished (complete, pruned, failed) after the best one (the first of a tie; with
    several objectives, the last to bring a new point to the Pareto front); 0 before any is
    complete."""
    trials = study.get_trials(deepcopy=False)
    if not any(t.state == TrialState.COMPLETE for t in trials):
        return 0
    if len(study.directions) == 1:
        best = study.best_trial.number
    else:
        first_of: dict[tuple[float, ...], int] = {}
        for t in sorted(study.best_trials, key=lambda t: t.number):
            first_of.setdefault(tuple(t.values), t.number)
        best = max(first_of.values(), default=-1)
    return sum(t.state in FINISHED and t.number > best for t in trials)


# Trial user attributes: who runs it (host:pid), and which failed trial it repeats, how often.
PROCESS_ATTR, RETRY_OF_ATTR, RETRY_ATTR = "process", "retry_of", "retry"


def ask_again(study: optuna.Study, failed: optuna.trial.FrozenTrial, attempt: int) -> None:
    """Enqueue the failed trial's params: the next ask gets them. Optuna's own
    RetryFailedTrialCallback does the same, but only for RDB storages with heartbeats."""
    study.enqueue_trial(
        failed.params, user_attrs={RETRY_OF_ATTR: failed.number, RETRY_ATTR: attempt}
    )


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """RUNNING trials whose sweeper is gone: FAIL, and asked again; their numbers. Gone: this
    host's process ended, or (an RDB storage with heartbeats) the trial stopped beating, on any
    machine. Another host's trial that beats, or on a storage without heartbeats, may be alive
    (a shared study) and is left alone."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    stale = [t for t in running if process_gone(t.user_attrs.get(PROCESS_ATTR, ""))]
    for trial in stale:
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        ask_again(study, trial, trial.user_attrs.get(RETRY_ATTR, 0))
    storage = study._storage  # the study's storage object: Optuna offers no public accessor
    if getattr(storage, "get_heartbeat_interval", lambda: None)():
        # Optuna fails the silent ones and hands each to retry_stale (the storage's callback).
        optuna.storages.fail_stale_trials(study)
        still = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        stale += [t for t in running if t.number not in still and t not in stale]
    return [t.number for t in stale]


def retry_stale(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """A trial whose heartbeat stopped, failed by Optuna: asked again."""
    ask_again(study, trial, trial.user_attrs.get(RETRY_ATTR, 0))


class TrialBeats:
    """The heartbeat of each trial this sweeper runs, on a storage that keeps heartbeats (RDB):
    a sweep on another machine can then fail a trial whose sweeper died. Optuna beats only for
    the trials of study.optimize; an ask-and-tell sweeper beats for its own."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.storage: Any = None  # set when the study opens
        self.stops: dict[int, threading.Event] = {}

    def start(self, trial: optuna.Trial) -> None:
        every = getattr(self.storage, "get_heartbeat_interval", lambda: None)()
        if not every:
            return
        stop = self.stops[trial.number] = threading.Event()
        trial_id = trial._trial_id  # the storage's id of the trial: Optuna offers no public one

        def beating() -> None:
            while True:
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception:  # a database that hiccups: the next beat tries again
                    log.debug("heartbeat of trial %s failed", trial.number, exc_info=True)
                if stop.wait(every):
                    return

        threading.Thread(
            target=beating, name=f"trial-{trial.number}-heartbeat", daemon=True
        ).start()

    def stop(self, trial: optuna.Trial) -> None:
        if (stop := self.stops.pop(trial.number, None)) is not None:
            stop.set()


def trials_done(study: optuna.Study) -> int:
    """Finished trials (complete, pruned, failed) that count in n_trials: a failed trial that
    is asked again counts once, through its retry; a warm start's earlier runs do not count."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs[RETRY_OF_ATTR] for t in trials if RETRY_OF_ATTR in t.user_attrs}
    return sum(
        t.state in FINISHED and t.number not in retried and WARM_ATTR not in t.user_attrs
        for t in trials
    )


def tell_once(study: optuna.Study, trial: optuna.Trial, **result: Any) -> optuna.trial.FrozenTrial:
    """study.tell, leaving a trial its job already finished (pruned) as it is: not told again
    (Optuna's skip_if_finished would log "Skipped telling trial ..." for every pruned trial)."""
    frozen = study._storage.get_trial(trial._trial_id)  # Optuna has no public lookup by id
    if frozen.state.is_finished():
        return frozen
    try:
        return study.tell(trial, skip_if_finished=True, **result)
    except RuntimeError as error:
        # GridSampler calls study.stop() after its last point, which Optuna allows only inside
        # study.optimize; the result is stored before that call, so the tell itself happened.
        if "Study.stop" not in str(error):
            raise
        return next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number)


def launch_once(launcher: Any, overrides: list[list[str]], number: int) -> list[JobReturn]:
    """launcher.launch, once more when joblib's executor was half made by another slot's launch
    at the same moment (joblib#1794: two threads creating its reusable executor; the error is
    raised before the job is handed to a worker, so it never ran)."""
    try:
        return list(launcher.launch(overrides, initial_job_idx=number))
    except AttributeError as error:
        if "_temp_folder_manager" not in str(error):
            raise
        log.debug("joblib's executor race (joblib#1794): trial launched again")
        return list(launcher.launch(overrides, initial_job_idx=number))


def runs_jobs_concurrently(launcher: Any) -> bool:
    """Whether launches from several threads run at once. Hydra's basic launcher runs each
    job in this process (working folder, logging and Hydra's state are the process's), so
    its trials go one batch at a time; so does joblib's with one worker (n_jobs=1, or -1 on
    one CPU), which joblib runs in the calling process. Every other launcher hands jobs to
    other processes."""
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    if isinstance(launcher, BasicLauncher):
        return False
    try:  # an optional plugin (hydra-joblib-launcher)
        from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
        from joblib import effective_n_jobs
    except ImportError:
        return True
    if isinstance(launcher, JoblibLauncher):  # its `joblib`: the kwargs of joblib.Parallel
        return bool(effective_n_jobs(launcher.joblib.get("n_jobs", -1)) > 1)
    return True
