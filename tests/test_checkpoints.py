"""A checkpoint read back with load_model predicts what the trained run tested."""

import pytest
import torch

from tests.conftest import store_uri, train_in_process
from tests.data_factory import write_csv
from tunelab.errors import UserError
from tunelab.inference.checkpoint import load_model


def test_a_table_checkpoint_standardises_raw_rows_as_training_did(tmp_path) -> None:
    from mlflow import MlflowClient
    from omegaconf import OmegaConf

    from tunelab.data.datamodule import build_datamodule

    write_csv(tmp_path / "table.csv")
    table = [
        "data=csv",
        f"data.source.path={tmp_path / 'table.csv'}",
        "data.source.target=species",
        "data.source.categorical=[colour]",
        "data.source.drop=[id]",
        "model=mlp",
        "trainer.max_epochs=3",
    ]
    job = train_in_process(table, tmp_path)
    model = load_model(tmp_path / "outputs" / "in-process" / "checkpoints" / "best.ckpt")
    assert model.classes == ["setosa", "versicolor", "virginica"]
    assert not model.network.training
    # The rows as the source returns them, before any standardisation: the model's metadata
    # standardises them with the training split's statistics.
    datamodule = build_datamodule(OmegaConf.create(model.config).data)
    test = datamodule.index["test"]
    raw, y = datamodule.data.x[test], datamodule.data.y[test]
    assert not torch.allclose(raw, datamodule.split("test")[0])  # so standardising matters
    accuracy = (model.predict(raw).argmax(1) == y).float().mean().item()
    run = MlflowClient(store_uri(tmp_path)).get_run(job.run.run_id)
    assert accuracy == pytest.approx(run.data.metrics["test/acc"], abs=1e-6)


def test_a_file_that_is_not_a_tunelab_checkpoint_says_so(tmp_path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_model(tmp_path / "missing.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    with pytest.raises(UserError, match="not a tunelab checkpoint"):
        load_model(tmp_path / "other.ckpt")
