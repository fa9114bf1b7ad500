"""Train a model: `python train.py`, `python train.py -m optimizer.lr=1e-3,1e-4`."""

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("TUNELAB_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    # Imported here so that --help, --cfg job and config errors never load torch.
    from tunelab.jobs.specs import TRAIN
    from tunelab.jobs.wrapper import run_job
    from tunelab.sweeps.state import finished_objective

    if (objective := finished_objective()) is not None:  # a re-run sweep: this trial is done
        return objective
    return run_job(cfg, TRAIN).objective  # the run opens while torch loads; it ends once


if __name__ == "__main__":
    from tunelab.cli.runtime import distributed_rank_command
    from tunelab.jobs.launchers import launcher_error
    from tunelab.training.rerun import rerun_command

    sys.argv = distributed_rank_command(sys.argv)  # rank 1+ of a sweep's DDP trial: that trial
    sys.argv = rerun_command(sys.argv)  # resume=RUN_ID, reproduce=RUN_ID: the run's own overrides
    if problem := launcher_error(sys.argv[1:]):  # before Hydra, whose message names no package
        raise SystemExit(f"tunelab: {problem}")
    main()
    if (
        "tunelab.training.pipeline" in sys.modules
    ):  # a job ran: skip the slow teardown of torch and Lightning
        from tunelab.cli.runtime import exit_skipping_teardown, started_as_script

        if started_as_script(__file__):
            exit_skipping_teardown()
