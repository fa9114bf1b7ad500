"""Classical baselines on a table, on the split `python train.py` uses: `python baseline.py`,
`python baseline.py -m estimator=linear,random_forest,gradient_boosting,svm`."""

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("TUNELAB_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="baseline")
def main(cfg: DictConfig) -> float:
    # Imported here so that --help, --cfg job and config errors never load torch.
    from tunelab.jobs.specs import BASELINE
    from tunelab.jobs.wrapper import run_job

    return run_job(cfg, BASELINE).objective  # the validation headline metric


if __name__ == "__main__":
    from tunelab.jobs.launchers import launcher_error

    if problem := launcher_error(sys.argv[1:]):  # before Hydra, whose message names no package
        raise SystemExit(f"tunelab: {problem}")
    main()
