"""A new SQLite store is a copy of a migrated empty one (tunelab.tracking.new_sqlite)."""

import sqlite3

from tunelab.tracking.store import experiment_id, open_store


def test_a_second_new_store_is_copied_and_makes_its_own_default_experiment(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    open_store(f"sqlite:///{tmp_path}/first.db")  # migrated by MLflow, then cached
    [template] = (tmp_path / "cache" / "tunelab").glob("mlflow-*-empty.db")
    with sqlite3.connect(template) as db:
        assert db.execute("SELECT count(*) FROM experiments").fetchone() == (0,)

    (tmp_path / "second").mkdir()
    uri = f"sqlite:///{tmp_path}/second/mlflow.db"
    client = open_store(uri)
    assert client.get_experiment("0").name == "Default"
    experiment = experiment_id(client, "copied", uri)
    assert client.get_experiment(experiment).artifact_location == str(
        tmp_path / "second" / "mlartifacts"
    )
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "val/acc", 0.5)
    assert client.get_run(run.info.run_id).data.metrics == {"val/acc": 0.5}


def test_a_cache_that_cannot_be_written_leaves_the_new_store_to_mlflow(
    tmp_path, monkeypatch
) -> None:
    (tmp_path / "cache").write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    client = open_store(f"sqlite:///{tmp_path}/mlflow.db")
    assert client.get_experiment("0").name == "Default"
    assert not list(tmp_path.glob(".mlflow.db.*"))  # no partial copy left behind
