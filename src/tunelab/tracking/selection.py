"""Which model a job names: exactly one of a checkpoint file, a run, or a model URI. Checked
by eval.py and export.py before anything heavy is imported, and again where the checkpoint is
fetched from the store. No MLflow import here."""

from pathlib import Path


def model_selector_error(
    ckpt_path: str | None, run_id: str | None, model_uri: str | None
) -> str | None:
    """eval.py names its model with exactly one of three keys; a path must exist."""
    given = [
        k for k, v in (("ckpt_path", ckpt_path), ("run_id", run_id), ("model_uri", model_uri)) if v
    ]
    if len(given) != 1:
        named = f" (got {', '.join(given)})" if given else ""
        return f"name one model: ckpt_path=PATH, run_id=ID or model_uri=models:/NAME@ALIAS{named}"
    if ckpt_path and not Path(ckpt_path).is_file():
        return f"checkpoint {ckpt_path} does not exist: set ckpt_path to a .ckpt file of a run"
    return None
