"""Print pip constraints that pin every direct dependency in pyproject.toml to its floor.

`make floor` installs the project with these constraints, so each direct dependency (runtime and
dev extras) is at the oldest release its range allows and everything else resolves as usual, then
runs the suite: the floors in pyproject.toml are the versions that run has passed with. pip has no
"lowest direct" resolution of its own (uv's does, but uv would download a CUDA torch here).
"""

from __future__ import annotations

import sys
from pathlib import Path

from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent


def direct_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    """The project's dependencies and every optional extra's, as parsed requirements."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines += extra
    return [Requirement(line) for line in lines]


def floor(requirement: Requirement) -> str | None:
    """The version after `>=`, or None when the requirement has no floor."""
    floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return floors[0] if len(floors) == 1 else None


def main() -> int:
    missing = [str(r) for r in direct_requirements() if floor(r) is None]
    if missing:
        print(
            f"dependency_floor: no single >= floor in pyproject.toml for {missing}", file=sys.stderr
        )
        return 1
    for requirement in direct_requirements():
        print(f"{requirement.name}=={floor(requirement)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
