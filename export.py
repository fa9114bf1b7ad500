"""Ship a trained model: `python export.py run_id=ID`, `... model_uri=models:/NAME@champion`,
`python export.py -m run_id=ID prune.sparsity=0.3,0.5,0.7,0.9` (a sweep of the trade-off)."""

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

os.environ.setdefault("TUNELAB_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> float:
    from tunelab.checks import export_config_error

    if problem := export_config_error(cfg):  # before torch and MLflow are imported
        raise SystemExit(f"tunelab: {problem}")
    from tunelab.errors import UserError
    from tunelab.export_job import export_model

    try:
        return export_model(cfg, Path(HydraConfig.get().runtime.output_dir))
    except UserError as error:  # what to change, in one line
        raise SystemExit(f"tunelab: {error}") from None


if __name__ == "__main__":
    from tunelab.checks import launcher_error

    if problem := launcher_error(sys.argv[1:]):  # before Hydra, whose message names no package
        raise SystemExit(f"tunelab: {problem}")
    main()
