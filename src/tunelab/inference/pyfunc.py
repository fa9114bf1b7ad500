"""A tunelab checkpoint as an MLflow pyfunc model: raw inputs in, class probabilities (or a
regression's values, in the target's units) out.

`mlflow.pyfunc.load_model(uri).predict(raw)` and `mlflow models serve` run this class. It is
logged as a model from code (this file, ending in set_model) with the checkpoint as an artifact
and the tunelab package as code; loading imports torch but not Lightning.
"""

from typing import Any

import mlflow.models
import numpy as np
from mlflow.pyfunc import PythonModel


class CheckpointModel(PythonModel):
    """predict(images [N, C, H, W] in the source's pixel scale, or a DataFrame with the
    training table's columns) -> a DataFrame of class probabilities, one column per class;
    for a regression, of predicted values, one column per target."""

    def load_context(self, context: Any) -> None:
        from tunelab.inference.checkpoint import load_model

        self.model = load_model(context.artifacts["checkpoint"])

    # The hint is one MLflow infers no schema from (without one it warns at every load): the
    # logged signature is the schema (tunelab.tracking.registry.signature); tables arrive as a
    # DataFrame.
    def predict(self, context: Any, model_input: np.ndarray, params: dict | None = None) -> Any:
        import pandas as pd

        predictions = self.model.predict_raw(model_input)
        return pd.DataFrame(predictions.numpy(), columns=self.model.output_names)


mlflow.models.set_model(CheckpointModel())
