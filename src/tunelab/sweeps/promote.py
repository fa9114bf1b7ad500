"""A sweep's winner as a config: conf/experiment/<sweep>_best.yaml.

Every sweep that ends with a best trial writes it (`promote_to` in conf/train.yaml; null: no
file), and `python -m tunelab.sweeps.promote SWEEP_RUN_ID [--trial N]` writes it for any
finished sweep in the store. `python train.py experiment=<sweep>_best` then trains the trial's
config again: its group choices and values, and the fixed values of the search it came from
(conf/hparams_search/NAME.yaml's own keys, without its sweeper), so the same seed reproduces
the trial's metrics on CPU.

A file a person wrote is never replaced: only a file this module wrote (its first line says
so) is; otherwise the new one is written beside it (<sweep>_best_2.yaml, ...).
"""

import argparse
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tunelab.sweeps.objectives import Constraint, parse_constraints

MARK = "# Promoted by tunelab"  # the second line of every file written here


def experiment_config(overrides: list[str], conf: Path) -> tuple[list[dict[str, str]], dict]:
    """(the defaults list, the values) of an experiment config that composes as `overrides`
    did: group choices become `override /GROUP: CHOICE`, values nested keys; a search
    (hparams_search=NAME) is replaced by its own fixed values and non-sweeper defaults."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    defaults: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    for override in OverridesParser.create().parse_overrides(overrides):
        key, value = override.get_key_element().lstrip("+~"), override.value()
        if override.is_delete() or key.startswith("hydra"):
            continue
        if key == "hparams_search":
            search_defaults, search_values = search_fixed(conf, str(value))
            defaults += search_defaults
            merge(values, search_values)
        elif (conf / key).is_dir() and "." not in key:  # a config group
            defaults.append({f"override /{key}": str(value)})
        else:
            merge(values, nested(key, value))
    return defaults, values


def search_fixed(conf: Path, search: str) -> tuple[list[dict[str, str]], dict]:
    """What conf/hparams_search/SEARCH.yaml sets besides its sweeper: defaults, values."""
    data = yaml.safe_load((conf / "hparams_search" / f"{search}.yaml").read_text()) or {}
    defaults = [
        entry
        for entry in data.get("defaults", [])
        if isinstance(entry, dict) and not any("hydra" in str(k) for k in entry)
    ]
    return defaults, {k: v for k, v in data.items() if k not in ("defaults", "hydra")}


def nested(key: str, value: Any) -> dict:
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def merge(into: dict, other: dict) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def file_name(sweep_name: str) -> str:
    """`digits_tpe 12-06 23:20:07` or `sweep lr wd on digits ...` -> digits_tpe, sweep_lr_wd."""
    base = re.sub(r" on .*| \d\d-\d\d \d\d:\d\d:\d\d$", "", sweep_name)
    return re.sub(r"\W+", "_", base).strip("_") or "sweep"


def write_experiment(
    folder: Path, name: str, defaults: list, values: dict, about: list[str], what: str = "best"
) -> Path:
    """conf/experiment/NAME_best.yaml (or beside a file a person wrote: NAME_best_2.yaml);
    what: `pick` for a trial picked under a budget (--pick)."""
    folder.mkdir(parents=True, exist_ok=True)
    path, n = folder / f"{name}_{what}.yaml", 1
    while path.exists() and not any(x.startswith(MARK) for x in path.read_text().splitlines()[:2]):
        n += 1
        path = folder / f"{name}_{what}_{n}.yaml"
    header = ["@package _global_", f"{MARK[2:]}: python train.py experiment={path.stem}", *about]
    body = {"defaults": defaults} if defaults else {}
    text = "".join(f"# {line}\n" for line in header)
    path.write_text(text + yaml.safe_dump({**body, **values}, sort_keys=False))
    return path


def promote_trial(
    client: Any,
    parent_run_id: str,
    trial: int | None,
    conf: Path,
    folder: Path,
    about: Sequence[str] = (),
    picks: Sequence[Constraint] = (),
) -> Path:
    """Write trial `trial` of the sweep `parent_run_id` (None: its best; with `picks`, the
    most accurate feasible trial within them) as an experiment; `about`: more header lines
    (its registered model)."""
    parent = client.get_run(parent_run_id)
    return write_trial(
        parent, chosen_trial(client, parent, trial, picks), conf, folder, about, picks
    )


def write_trial(
    parent: Any,
    chosen: Any,
    conf: Path,
    folder: Path,
    about: Sequence[str] = (),
    picks: Sequence[Constraint] = (),
) -> Path:
    """The trial `chosen` (tunelab.sweeps.trials.Trial) of the sweep run `parent` as an
    experiment config; `picks`: the bounds it was picked within, said in its header."""
    defaults, values = experiment_config(shlex.split(chosen.overrides_text), conf)
    lines = [
        f"from sweep run {parent.info.run_id} ({parent.info.run_name}), trial #{chosen.number}: "
        f"objective {chosen.objective:.6g}, run {chosen.run_id}",
        f"its overrides: {chosen.overrides_text}",
        *(["picked as the most accurate within " + ", ".join(map(str, picks))] if picks else []),
        *about,
    ]
    name, what = file_name(parent.info.run_name or ""), "pick" if picks else "best"
    return write_experiment(folder, name, defaults, values, lines, what)


def chosen_trial(client: Any, parent: Any, trial: int | None, picks: Sequence[Constraint]) -> Any:
    """The sweep's best trial, trial number `trial`, or the best within `picks`."""
    from tunelab.sweeps.front import violations
    from tunelab.sweeps.trials import best_trial, fetch_trials

    trials = fetch_trials(client, parent.info.experiment_id, parent.info.run_id)
    if picks:
        scored = [t for t in trials if t.scored and t.tags.get("trial.feasible") != "false"]
        metric = next((t.params.get("objective.metric", "") for t in scored), "")
        mode = next((t.params.get("objective.mode", "max") for t in scored), "max")
        logged = sorted({m for t in scored for m in t.metrics if m.startswith("cost/")})
        for pick in picks:
            if pick.metric != metric and pick.metric not in logged:
                measured = ", ".join([metric, *logged])
                raise ValueError(
                    f"--pick {pick}: no trial logged {pick.metric}; they logged {measured}"
                )
        within = [t for t in scored if not violations(t, list(picks), metric)]
        chosen = best_trial(within, mode)
        if chosen is None:
            bounds = ", ".join(map(str, picks))
            raise ValueError(
                f"no finished trial of sweep run {parent.info.run_id} is within {bounds}"
            )
        return chosen
    best = parent.data.params.get("best.run_id")  # the sweep's summary picked it
    wanted = (lambda t: t.run_id == best) if trial is None else (lambda t: t.number == trial)
    chosen = next((t for t in trials if wanted(t)), None)
    if chosen is None:
        raise ValueError(
            f"sweep run {parent.info.run_id} has no "
            + ("finished trial" if trial is None else f"trial {trial}")
        )
    return chosen


def main() -> None:
    import os

    from mlflow import MlflowClient

    parser = argparse.ArgumentParser(
        description="A finished sweep's best trial (or --trial N) as conf/experiment/<sweep>_best.yaml"
    )
    parser.add_argument("sweep_run_id")
    parser.add_argument("--trial", type=int, default=None, help="this trial instead of the best")
    parser.add_argument(
        "--pick",
        action="append",
        default=[],
        help='the most accurate trial within a bound, e.g. "cost/latency_ms<=0.3" (repeatable); '
        "written as <sweep>_pick.yaml and registered (--register)",
    )
    parser.add_argument(
        "--register",
        default=None,
        help="NAME@ALIAS for the picked trial's model (default: the sweep's experiment @picked)",
    )
    code = Path(__file__).resolve().parents[3]  # the repository: its conf/ is read
    root = Path(os.environ.get("TUNELAB_ROOT", code))  # paths.root_dir: the file goes here
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}"),
    )
    options = parser.parse_args()
    client = MlflowClient(options.tracking_uri)
    conf, folder = code / "conf", root / "conf" / "experiment"
    about: dict[str, str] = {}
    try:
        picks = parse_constraints(options.pick)
        if not picks:
            path = promote_trial(client, options.sweep_run_id, options.trial, conf, folder)
        else:  # the picked trial, registered, then written with its version in the header
            parent = client.get_run(options.sweep_run_id)
            chosen = chosen_trial(client, parent, None, picks)
            about = register_pick(client, parent, chosen, options.register)
            lines = [f"{k}: {v}" for k, v in about.items() if k != "name"]
            path = write_trial(parent, chosen, conf, folder, lines, picks)
        if version := about.get("registered_model.version"):  # file and version name each other
            client.set_model_version_tag(about["name"], version, "tunelab.experiment", path.stem)
    except Exception as error:  # a run id that is not a sweep's, a store that is not there
        message = str(error).replace("hydra.sweeper.constraints", "--pick")
        raise SystemExit(f"tunelab: promote {options.sweep_run_id}: {message}") from None
    for key, value in about.items():
        if key != "name":
            print(f"{key}: {value}")
    print(f"wrote {path}: python train.py experiment={path.stem}")


def register_pick(client: Any, parent: Any, chosen: Any, register: str | None) -> dict[str, str]:
    """The picked trial's model (`chosen`, of the sweep run `parent`) as a version of NAME,
    ALIAS moved to it (NAME@ALIAS, default the sweep's experiment @picked): the registry's
    tags, and the model's name."""
    from tunelab.tracking.registry import register_best

    default = f"{client.get_experiment(parent.info.experiment_id).name}@picked"
    name, _, alias = (register or default).partition("@")
    mode = chosen.params.get("objective.mode", "max")
    tags = register_best(client, name, alias or "picked", chosen.run_id, chosen.objective, mode)
    return {**tags, "name": name}


if __name__ == "__main__":
    main()
