"""Evaluate or use a trained model: `python eval.py run_id=ID`, `... model_uri=models:/NAME@champion`,
`python eval.py mode=predict ckpt_path=PATH input=FOLDER_OR_CSV`."""

import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

os.environ.setdefault("TUNELAB_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> float:
    from tunelab.checks import eval_config_error

    if problem := eval_config_error(cfg):  # before torch and MLflow are imported
        raise SystemExit(f"tunelab: {problem}")
    from tunelab.errors import UserError
    from tunelab.eval_job import evaluate_or_predict

    try:
        metrics = evaluate_or_predict(cfg, Path(HydraConfig.get().runtime.output_dir))
    except UserError as error:  # what to change, in one line
        raise SystemExit(f"tunelab: {error}") from None
    headline = (
        "test/rmse" if "test/rmse" in metrics else "test/acc"
    )  # a regression's, a classifier's
    return metrics.get(headline, float("nan"))


if __name__ == "__main__":
    main()
