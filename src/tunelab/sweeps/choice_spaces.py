"""What a search samples when it picks a choice: conf/search_space/GROUP/CHOICE.yml.

A config group's choice (model=cnn, optimizer=sgd, scheduler=step) may declare its own knobs to
search, in Hydra's sweep syntax, in a file beside the config tree:

    # conf/search_space/model/cnn.yml: searched in the trials that pick model=cnn
    model.hidden_dim: choice(64, 128, 256)
    model.channels: choice([16,32], [32,64])

The tunelab Optuna sweeper samples them only in the trials that pick that choice, and a choice's
space may itself pick in a group (optimizer=sgd's: scheduler: choice(constant, step)), whose
choices bring their spaces in turn. The files live beside conf/GROUP, not in it: a file in the
group would be a choice of its own, and a choice's config node holds only its target's call.
This module finds and checks the spaces; the sweeper plugin turns them into Optuna's
distributions.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep

SPACES_FOLDER = "search_space"
# .yml, not .yaml: Hydra takes every .yaml file under conf/ for a config group's choice, and
# --help would list search_space/model: cnn, mlp, ... as groups to compose from.
SUFFIX = ".yml"


@dataclass(frozen=True)
class ChoiceSpace:
    """The knobs (key: sweep syntax) searched in the trials that pick group=choice."""

    group: str
    choice: str
    file: Path
    knobs: dict[str, str]


def space_folders(config_sources: Iterable[Any]) -> list[Path]:
    """conf/search_space of each config folder Hydra reads (hydra.runtime.config_sources)."""
    return [
        Path(str(source["path"])) / SPACES_FOLDER
        for source in config_sources
        if source["schema"] == "file" and source["path"]
    ]


def choice_spaces(searched: dict[str, str], folders: list[Path]) -> list[ChoiceSpace]:
    """The spaces of every choice the search (`searched`: key -> sweep syntax) can pick, and
    of the choices those can pick. ValueError, naming the file, for a file that is not a
    space."""
    parser = OverridesParser.create()
    pending, found = list(searched.items()), {}
    while pending:
        key, sweep = pending.pop(0)
        override = parser.parse_override(f"{key}={sweep}")
        if not isinstance(override.value(), ChoiceSweep):
            continue
        for choice in override.sweep_string_iterator():
            file = next(
                (
                    f / key / f"{choice}{SUFFIX}"
                    for f in folders
                    if (f / key / f"{choice}{SUFFIX}").exists()
                ),
                None,
            )
            if file is None or (key, choice) in found:
                continue
            space = ChoiceSpace(key, choice, file, read_space(file, parser))
            found[(key, choice)] = space
            pending += list(space.knobs.items())
    return list(found.values())


def read_space(file: Path, parser: OverridesParser) -> dict[str, str]:
    import yaml

    try:
        entries = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{file}: not YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(entries, dict):
        raise ValueError(f"{file}: write one KEY: SWEEP per line, e.g. model.width: choice(32, 64)")
    knobs = {str(k): str(v) for k, v in entries.items()}
    for key, sweep in knobs.items():
        if not parser.parse_override(f"{key}={sweep}").is_sweep_override():
            raise ValueError(
                f"{file}: {key}: {sweep} is one value, not a space: write choice({sweep}), or "
                "set it in the choice's own config"
            )
    return knobs


def choice_space_problem(config: Any) -> str | None:
    """A choice's space that cannot work, as one line naming its file: not a space, or a knob
    its choice's config does not have. Checked before a sweep opens its run."""
    from hydra import compose
    from omegaconf import OmegaConf

    from tunelab.cli.overrides import is_sweep, overrides_dict

    folders = space_folders(config.hydra.runtime.config_sources)
    if stray := next((p for f in folders if f.is_dir() for p in sorted(f.rglob("*.yaml"))), None):
        return f"{stray}: name it {stray.with_suffix(SUFFIX).name} (a .yaml file there is a config group of its own to Hydra)"
    task = list(config.hydra.overrides.task)
    searched = {
        **dict(config.hydra.sweeper.get("params") or {}),
        **overrides_dict(filter(is_sweep, task)),
    }
    try:
        spaces = choice_spaces(searched, folders)
    except ValueError as error:
        return str(error)
    sampler = str((config.hydra.sweeper.get("sampler") or {}).get("_target_", ""))
    if spaces and sampler.endswith("GridSampler"):
        return (
            f"hydra/sweeper/sampler=grid cannot search {spaces[0].file} (a choice's own knobs "
            "exist in some trials only): use tpe or random, or list the combinations"
        )
    fixed = [o for o in task if not is_sweep(o)]
    for space in spaces:
        chosen = compose(config.hydra.job.config_name, [*fixed, f"{space.group}={space.choice}"])
        for key in space.knobs:
            if OmegaConf.select(chosen, key, default=_ABSENT) is _ABSENT:
                parent = OmegaConf.select(chosen, key.rpartition(".")[0], default=None)
                keys = ", ".join(parent.keys()) if hasattr(parent, "keys") else "none"
                return (
                    f"{space.file}: {key} does not exist under {space.group}={space.choice} "
                    f"(its keys there: {keys}): fix the key, or add it to the choice's config"
                )
    return None


_ABSENT = object()
