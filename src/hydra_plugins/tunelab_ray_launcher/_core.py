"""Each job of a batch as a Ray task that runs Hydra's run_job, as the joblib launcher runs
its jobs in loky workers; the results in the jobs' order."""

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

from tunelab.jobs.launchers import CONNECT_SECONDS, ray_answers

log = logging.getLogger(__name__)

CONNECTING = threading.Lock()


def launch(
    launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> list[JobReturn]:
    import ray

    settings = launcher.settings
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    Path(str(launcher.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    with CONNECTING:  # the Optuna sweeper launches from several threads at once
        if not ray.is_initialized():
            connect(settings.get("address"), dict(settings.get("init") or {}))
    task = ray.remote(num_cpus=settings["num_cpus"], num_gpus=settings["num_gpus"])(execute_job)
    log.info("Ray is launching %d jobs", len(job_overrides))
    for idx, overrides in enumerate(job_overrides):
        log.info("\t#%d : %s", initial_job_idx + idx, " ".join(filter_overrides(overrides)))
    state = Singleton.get_state()
    futures = [
        task.remote(
            initial_job_idx + idx,
            list(overrides),
            launcher.hydra_context,
            launcher.config,
            launcher.task_function,
            state,
        )
        for idx, overrides in enumerate(job_overrides)
    ]
    return ray.get(futures)


def connect(address: str | None, init: dict[str, Any]) -> None:
    """ray.init on this machine (address null) or to a cluster that answers; one line if not."""
    import ray

    if address and not ray_answers(address):
        raise SystemExit(
            f"tunelab: hydra.launcher.address={address}: no Ray cluster answers there within "
            f"{CONNECT_SECONDS} s: start one (ray start --head) or fix the address"
        )
    # A cluster's workers do not inherit this process's environment: the settings a trial's
    # config reads from it (where runs land, the tracking server and its credentials) go along.
    runtime_env = dict(init.pop("runtime_env", None) or {})
    runtime_env["env_vars"] = {**shared_environment(), **runtime_env.get("env_vars", {})}
    ray.init(address=address, include_dashboard=False, runtime_env=runtime_env, **init)


def shared_environment() -> dict[str, str]:
    """TUNELAB_ROOT and the MLFLOW_* variables of this process."""
    return {k: v for k, v in os.environ.items() if k == "TUNELAB_ROOT" or k.startswith("MLFLOW_")}


def execute_job(
    idx: int,
    overrides: list[str],
    hydra_context: HydraContext,
    config: DictConfig,
    task_function: TaskFunction,
    singleton_state: dict[Any, Any],
) -> JobReturn:
    """One job in a Ray worker: Hydra's globals and config for it, then run_job."""
    setup_globals()
    Singleton.set_state(singleton_state)
    sweep_config = hydra_context.config_loader.load_sweep_config(config, overrides)
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    return run_job(
        hydra_context=hydra_context,
        config=sweep_config,
        task_function=task_function,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
