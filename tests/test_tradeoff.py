"""Accuracy against cost: cost/* metrics, several objectives, constraints, the Pareto front."""

import itertools
import math
from pathlib import Path

import pytest

from tests.conftest import CONF, compose_config, png_width, search_problem


def test_the_front_is_the_points_no_other_point_dominates() -> None:
    from tunelab.sweeps.front import hypervolume, pareto

    points = {"a": [1.0, 5.0], "b": [2.0, 2.0], "c": [3.0, 3.0], "d": [5.0, 1.0], "e": [2.0, 2.0]}
    assert pareto(points) == {"a", "b", "d", "e"}  # c is dominated by b; b and e tie
    # the area the front covers up to (6, 6): three rectangles' union
    assert hypervolume([[1, 5], [2, 2], [5, 1]], [6, 6]) == pytest.approx(5 * 1 + 4 * 3 + 1 * 1)
    assert hypervolume([[1, 1, 1]], [2, 3, 4]) == pytest.approx(1 * 2 * 3)
    assert hypervolume([[7, 7]], [6, 6]) == 0.0  # beyond the reference: covers nothing


def test_a_constraint_says_how_far_a_value_is_past_its_bound() -> None:
    from tunelab.sweeps.objectives import parse_constraints

    at_most, at_least = parse_constraints(["cost/latency_ms <= 0.5", "val/acc>=0.9"])
    assert at_most.excess(0.7) == pytest.approx(0.2) and at_most.excess(0.4) < 0
    assert at_least.excess(0.8) == pytest.approx(0.1) and at_least.excess(0.95) < 0
    assert at_most.excess(math.nan) == math.inf  # not measured: never feasible


BAD = [
    (
        ["hparams_search=digits_pareto", "hydra/sweeper/pruner=median"],
        "objective.more makes a study of several objectives, which Optuna's MedianPruner "
        "cannot prune (it judges one): add hydra/sweeper/pruner=none",
    ),
    (
        ["hparams_search=digits_pareto", "hydra/sweeper/sampler=cmaes"],
        "objective.more: CmaEsSampler searches one objective",
    ),
    (
        ["hparams_search=digits_tpe", "hydra.sweeper.constraints=['cost/latency <= 1']"],
        "hydra.sweeper.constraints: cost/latency is not a metric a trial measures once: "
        "allowed: cost/params, cost/size_bytes, cost/latency_ms, val/acc",
    ),
    (
        ["hparams_search=digits_tpe", "hydra.sweeper.constraints=['cost/params < 1000']"],
        "'cost/params < 1000' is not `METRIC <= NUMBER` or `METRIC >= NUMBER`",
    ),
    (
        [
            "hparams_search=digits_tpe",
            "hydra/sweeper/sampler=random",
            "hydra.sweeper.constraints=['cost/params <= 1000']",
        ],
        "hydra.sweeper.constraints need a sampler that takes them: tpe, gp, nsga2 or nsga3",
    ),
    (
        ["hparams_search=digits_pareto", "objective.more=[{metric: val/loss, mode: min}]"],
        "objective.more: val/loss is not a metric runs log once: allowed: cost/params",
    ),
    (
        ["hparams_search=digits_pareto", "objective.more=[{metric: cost/params, mode: least}]"],
        "objective.more: cost/params mode=least: allowed: min, max",
    ),
    (
        ["hparams_search=digits_pareto", "cost.measure=false"],
        "objective.more names cost/latency_ms and cost.measure=false",
    ),
]


@pytest.mark.parametrize(("overrides", "says"), BAD)
def test_a_tradeoff_that_cannot_work_is_one_line_before_any_trial(overrides, says) -> None:
    problem = search_problem(overrides)
    assert says in problem and "\n" not in problem, problem


def test_constraints_need_costs_measured_only_when_they_name_a_cost() -> None:
    def problem(constraint: str) -> str:
        overrides = ["hparams_search=digits_tpe", "cost.measure=false"]
        return search_problem([*overrides, f"hydra.sweeper.constraints=['{constraint}']"])

    assert problem("val/acc >= 0.5") == ""
    assert "constraints name cost/params and cost.measure=false" in problem("cost/params <= 1000")


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["objective.more=[{metric: cost/params, mode: up}]"], "cost/params mode=up: allowed"),
        (["cost.int8=true"], "cost.int8=true measures an int8 ONNX file: add cost.runtime="),
        (
            ["objective.more=[{metric: cost/int8_latency_ms, mode: min}]"],
            "objective.more names cost/int8_latency_ms: add cost.int8=true",
        ),
    ],
)
def test_a_single_run_with_costs_that_cannot_work_is_one_line(overrides, says) -> None:
    from tunelab.jobs.checks import config_problems

    problems = config_problems(compose_config(overrides))
    assert len(problems) == 1 and says in problems[0], problems


def test_a_run_times_its_onnx_file_and_its_int8_file_as_export_does(tmp_path) -> None:
    """cost.runtime=onnxruntime cost.int8=true: the float and int8 ONNX files' sizes and
    latencies, the files where export.py would write them."""
    from mlflow import MlflowClient

    from tests.conftest import store_uri, train_in_process

    settings = ["cost.measure=true", "cost.runtime=onnxruntime", "cost.int8=true", "cost.calls=5"]
    job = train_in_process(["model=mlp", "model.hidden_dim=64", *settings], tmp_path)
    run = MlflowClient(store_uri(tmp_path)).get_run(job.run.run_id)
    metrics, folder = run.data.metrics, Path(job.output_dir) / "cost"
    assert run.data.tags["cost.runtime"] == "onnxruntime"
    assert metrics["cost/size_bytes"] == (folder / "model.onnx").stat().st_size
    assert metrics["cost/int8_size_bytes"] == (folder / "model.int8_dynamic.onnx").stat().st_size
    assert metrics["cost/int8_size_bytes"] < metrics["cost/size_bytes"] / 2  # int8 weights
    assert metrics["cost/params"] == 64 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
    assert metrics["cost/latency_ms"] > 0 and metrics["cost/int8_latency_ms"] > 0


@pytest.mark.process
def test_a_study_of_accuracy_and_latency_tags_its_pareto_front(tmp_path) -> None:
    """A 6-trial NSGA-II study over MLP widths, the parameter count bounded: every trial
    measures its costs, the runs tagged Pareto are exactly the feasible non-dominated ones, the
    parent draws the front and logs the hypervolume after each trial, and the best and the
    promoted pick respect the bounds."""
    from tests.test_optuna_sweeper import load, study_sweep
    from tunelab.sweeps.front import pareto
    from tunelab.sweeps.objectives import parse_constraints
    from tunelab.sweeps.promote import chosen_trial, promote_trial, register_pick

    study_sweep(
        tmp_path,
        "hydra/sweeper/sampler=nsga2",
        "hydra/sweeper/pruner=none",
        "objective.more=[{metric: cost/latency_ms, mode: min}]",
        "hydra.sweeper.constraints=['cost/params <= 30000']",
        "model.hidden_dim=choice(8, 32, 128, 512)",
        "hydra.sweeper.n_trials=6",
        "trainer.max_epochs=1",
    )
    study, client, (parent,), children = load(tmp_path)
    assert len(study.directions) == 2 and len(children) == 6
    for child in children:
        assert {"cost/params", "cost/size_bytes", "cost/latency_ms"} <= child.data.metrics.keys()
        assert child.data.tags["cost.runtime"] == "pytorch"
    feasible = [c for c in children if c.data.metrics["cost/params"] <= 30000]
    infeasible = [c for c in children if c not in feasible]
    assert feasible and infeasible, "the widths should fall on both sides of the bound"
    for child in infeasible:
        assert child.data.tags["trial.feasible"] == "false"
        assert child.data.tags["trial.violates"].startswith("cost/params=")
    points = {
        c.info.run_id: [-c.data.metrics["objective"], c.data.metrics["cost/latency_ms"]]
        for c in feasible
    }
    front = pareto(points)
    assert {c.info.run_id for c in children if c.data.tags.get("pareto") == "true"} == front
    assert parent.data.metrics["pareto_trials"] == len(front)
    history = client.get_metric_history(parent.info.run_id, "hypervolume")
    assert sorted(m.step for m in history) == list(range(6))  # one point per finished trial
    grown = [m.value for m in sorted(history, key=lambda m: m.step)]
    # never shrinks; a front summed in another order may differ in the last bit
    assert all(later >= earlier - 1e-12 for earlier, later in itertools.pairwise(grown)), grown
    plot = client.download_artifacts(parent.info.run_id, "sweep/front.png")
    assert png_width(plot) >= 1000
    assert "**Pareto front**" in parent.data.tags["mlflow.note.content"]
    best = client.get_run(parent.data.params["best.run_id"])  # the most accurate within bounds
    assert best.data.metrics["cost/params"] <= 30000
    assert best.data.metrics["objective"] == max(c.data.metrics["objective"] for c in feasible)
    # a pick under a latency budget: the most accurate feasible trial within it
    budget = sorted(c.data.metrics["cost/latency_ms"] for c in feasible)[0]
    picks = parse_constraints([f"cost/latency_ms <= {budget}"])
    folder = tmp_path / "conf" / "experiment"
    path = promote_trial(client, parent.info.run_id, None, CONF, folder, picks=picks)
    assert path.name.endswith("_pick.yaml")
    fastest = min(feasible, key=lambda c: c.data.metrics["cost/latency_ms"])
    hidden = fastest.data.params["model.hidden_dim"]
    assert f"model.hidden_dim={hidden}" in Path(path).read_text()
    pick = chosen_trial(client, client.get_run(parent.info.run_id), None, picks)
    registered = register_pick(client, parent, pick, "fast@budget")
    version = client.get_model_version_by_alias("fast", "budget")
    picked = client.get_run(version.run_id)
    assert picked.data.metrics["cost/latency_ms"] <= budget and registered["name"] == "fast"
