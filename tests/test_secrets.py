"""Secrets never logged: secret-looking keys and URI passwords are masked everywhere a run writes."""

from pathlib import Path

import pytest

from tests.conftest import TINY, run_in_process, store_uri
from tunelab.cli.redact import MASK, is_secret_key, mask_config, mask_text

pytestmark = pytest.mark.process  # starts real jobs or services: make test-fast skips it

SECRET = "hunter2xyz"


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("db.password", True),
        ("API_TOKEN", True),
        ("aws_secret_access_key", True),
        ("my-api-key", True),
        ("credentials", True),
        ("max_tokens", False),
        ("tokenizer", False),
        ("optimizer.lr", False),
    ],
)
def test_secret_keys_are_told_by_their_words(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_uri_passwords_and_secret_assignments_are_masked_in_text_and_configs() -> None:
    line = f"train.py +db.password={SECRET} tracking.uri=http://bob:{SECRET}@host:5000 max_tokens=3"
    assert mask_text(line) == (
        f"train.py +db.password={MASK} tracking.uri=http://bob:{MASK}@host:5000 max_tokens=3"
    )
    config = {"db": {"password": SECRET, "url": f"postgresql://u:{SECRET}@h/db", "user": "u"}}
    assert SECRET not in str(mask_config(config))
    assert mask_config(config)["db"]["user"] == "u"


def files_holding(folder: Path, text: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_a_sweep_with_secrets_in_its_config_writes_them_nowhere(tmp_path) -> None:
    from mlflow import MlflowClient

    secrets = [
        f"+db.password={SECRET}",
        f"+db.url=postgresql://user:{SECRET}@db.example/runs",
        f"+api_token={SECRET}",
    ]
    result = run_in_process(["-m", *TINY, "model=mlp", "optimizer.lr=1e-3", *secrets], tmp_path)
    assert SECRET not in result.stdout + result.stderr
    client = MlflowClient(store_uri(tmp_path))
    runs = client.search_runs([client.get_experiment_by_name("tunelab").experiment_id])
    assert len(runs) == 2  # the parent and its trial
    for run in runs:
        assert SECRET not in str(run.data.params) + str(run.data.tags) + str(run.info.run_name)
    child = next(r for r in runs if "mlflow.parentRunId" in r.data.tags)
    assert child.data.params["db.password"] == MASK
    assert child.data.params["db.url"] == f"postgresql://user:{MASK}@db.example/runs"
    # config.yaml, Hydra's saved configs, the log, checkpoints (stored, not compressed), the
    # logged model and every artifact in the store
    written = [tmp_path / "multirun", tmp_path / "mlartifacts"]
    assert all(folder.exists() for folder in written)
    for folder in written:
        assert files_holding(folder, SECRET) == []
    assert files_holding(tmp_path / "multirun", "db.example")  # the masked config is there
