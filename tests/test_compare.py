"""python compare.py: the keys that differ, the metrics' deltas, repeats' spread."""

import pytest

from tests.conftest import run_in_process, store_uri, train_in_process
from tunelab.analysis.comparison import RunFacts, differing_keys, groups, read_runs, report
from tunelab.errors import UserError


@pytest.fixture(scope="module")
def four_runs(tmp_path_factory):
    """Two learning rates, two seeds each, one epoch, in one store: (root, run ids)."""
    root = tmp_path_factory.mktemp("compare")
    ids = []
    for lr in ("1e-3", "3e-3"):
        for seed in (1, 2):
            overrides = [f"optimizer.lr={lr}", f"seed={seed}", "trainer.max_epochs=1", "model=mlp"]
            ids.append(train_in_process(overrides, root).run.run_id)
    return root, ids


def test_two_runs_that_differ_in_one_key_list_exactly_that_key(four_runs) -> None:
    from mlflow import MlflowClient

    root, ids = four_runs
    client = MlflowClient(store_uri(root))
    assert differing_keys(read_runs(client, [ids[0], ids[2]])) == ["optimizer.lr"]
    args = [ids[0], ids[2], "--uri", store_uri(root)]
    printed = run_in_process(args, root, script="compare.py", inline_writer=False).stdout
    assert "| optimizer.lr |" in printed and "seed" not in printed.split("## Metrics")[0]
    comparison = printed.split("comparison run: ")[1].split()[0]
    logged = client.get_run(comparison)
    assert logged.data.tags["compare.sources"] == f"{ids[0]},{ids[2]}"
    experiment = logged.info.experiment_id  # the report links each source run's page
    assert all(f"(#/experiments/{experiment}/runs/{i}): `{i}`" in printed for i in ids[::2])
    assert {a.path for a in client.list_artifacts(comparison)} == {"comparison.md", "curves.png"}


def test_repeats_of_a_configuration_report_their_mean_and_std(four_runs) -> None:
    import statistics

    from mlflow import MlflowClient

    root, ids = four_runs
    runs = read_runs(MlflowClient(store_uri(root)), ids)
    found = groups(runs, differing_keys(runs))
    assert [len(g.runs) for g in found] == [2, 2]
    assert [g.label for g in found] == ["optimizer.lr=0.001", "optimizer.lr=0.003"]
    text = report(runs)
    values = found[0].values("test/acc")
    assert f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}" in text
    assert "Welch's t-test p = " in text


def test_runs_of_different_data_or_a_missing_run_are_one_line(four_runs) -> None:
    from mlflow import MlflowClient

    root, ids = four_runs
    digits = RunFacts("a", "a", {"task": "classification"}, {}, {"data.name": "digits"})
    table = RunFacts("b", "b", {"task": "classification"}, {}, {"data.name": "csv:houses"})
    with pytest.raises(UserError, match=r"different data \(csv:houses, digits\)"):
        report([digits, table])
    with pytest.raises(UserError, match="no run 0000 in"):
        read_runs(MlflowClient(store_uri(root)), [ids[0], "0000"])
