"""Ship a trained model: `python export.py run_id=ID`, `... model_uri=models:/NAME@champion`,
`python export.py -m run_id=ID sparse.fraction=0.3,0.5,0.7,0.9` (a sweep of the trade-off)."""

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("TUNELAB_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> float:
    # Imported here so that --help, --cfg job and config errors never load torch.
    from tunelab.jobs.specs import EXPORT
    from tunelab.jobs.wrapper import run_job

    return run_job(cfg, EXPORT).objective  # objective.metric of the variants, for a sweep


if __name__ == "__main__":
    from tunelab.export import renamed_error
    from tunelab.jobs.launchers import launcher_error

    # Before Hydra, whose messages name no package and no new key.
    if problem := launcher_error(sys.argv[1:]) or renamed_error(sys.argv[1:]):
        raise SystemExit(f"tunelab: {problem}")
    main()
