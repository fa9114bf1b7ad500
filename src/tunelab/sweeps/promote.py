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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

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
    folder: Path, name: str, defaults: list, values: dict, about: list[str]
) -> Path:
    """conf/experiment/NAME_best.yaml (or beside a file a person wrote: NAME_best_2.yaml)."""
    folder.mkdir(parents=True, exist_ok=True)
    path, n = folder / f"{name}_best.yaml", 1
    while path.exists() and not any(x.startswith(MARK) for x in path.read_text().splitlines()[:2]):
        n += 1
        path = folder / f"{name}_best_{n}.yaml"
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
) -> Path:
    """Write trial `trial` of the sweep `parent_run_id` (None: its best) as an experiment;
    `about`: more header lines (its registered model)."""
    from tunelab.sweeps.trials import fetch_trials

    parent = client.get_run(parent_run_id)
    trials = fetch_trials(client, parent.info.experiment_id, parent_run_id)
    best = parent.data.params.get("best.run_id")  # the sweep's summary picked it
    wanted = (lambda t: t.run_id == best) if trial is None else (lambda t: t.number == trial)
    chosen = next((t for t in trials if wanted(t)), None)
    if chosen is None:
        raise ValueError(
            f"sweep run {parent_run_id} has no "
            + ("finished trial" if trial is None else f"trial {trial}")
        )
    defaults, values = experiment_config(chosen.overrides_text.split(), conf)
    lines = [
        f"from sweep run {parent_run_id} ({parent.info.run_name}), trial #{chosen.number}: "
        f"objective {chosen.objective:.6g}, run {chosen.run_id}",
        f"its overrides: {chosen.overrides_text}",
        *about,
    ]
    return write_experiment(folder, file_name(parent.info.run_name or ""), defaults, values, lines)


def main() -> None:
    import os

    from mlflow import MlflowClient

    parser = argparse.ArgumentParser(
        description="A finished sweep's best trial (or --trial N) as conf/experiment/<sweep>_best.yaml"
    )
    parser.add_argument("sweep_run_id")
    parser.add_argument("--trial", type=int, default=None, help="this trial instead of the best")
    code = Path(__file__).resolve().parents[3]  # the repository: its conf/ is read
    root = Path(os.environ.get("TUNELAB_ROOT", code))  # paths.root_dir: the file goes here
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}"),
    )
    options = parser.parse_args()
    try:
        path = promote_trial(
            MlflowClient(options.tracking_uri),
            options.sweep_run_id,
            options.trial,
            code / "conf",
            root / "conf" / "experiment",
        )
    except Exception as error:  # a run id that is not a sweep's, a store that is not there
        raise SystemExit(f"tunelab: promote {options.sweep_run_id}: {error}") from None
    print(f"wrote {path}: python train.py experiment={path.stem}")


if __name__ == "__main__":
    main()
