"""Evaluate or use a trained model: `python eval.py run_id=ID`, `... model_uri=models:/NAME@champion`,
`python eval.py mode=predict ckpt_path=PATH input=FOLDER_OR_CSV`."""

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("TUNELAB_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> float:
    # Imported here so that --help, --cfg job and config errors never load torch.
    from tunelab.jobs.specs import EVAL
    from tunelab.jobs.wrapper import run_job

    return run_job(
        cfg, EVAL
    ).objective  # the test metric the model's task reports first (test/acc, ...)


if __name__ == "__main__":
    from tunelab.jobs.launchers import launcher_error

    if problem := launcher_error(sys.argv[1:]):  # before Hydra, whose message names no package
        raise SystemExit(f"tunelab: {problem}")
    main()
