"""pyproject.toml's ranges, the lock `make` installs from, and the floor constraints."""

import os
import runpy
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

floor_script = runpy.run_path(str(ROOT / "scripts" / "dependency_floor.py"))


def locked_versions() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version and " " not in line, f"requirements.lock: not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_direct_dependency_has_a_floor_a_ceiling_and_a_locked_version_inside() -> None:
    requirements: list[Requirement] = floor_script["direct_requirements"]()
    pins = locked_versions()
    assert len(requirements) > 20
    for requirement in requirements:
        operators = {spec.operator for spec in requirement.specifier}
        assert ">=" in operators and "<" in operators, (
            f"{requirement}: needs a >= floor and a < ceiling"
        )
        locked = pins.get(canonicalize_name(requirement.name))
        assert locked is not None, f"{requirement.name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(locked, prereleases=True), (
            f"requirements.lock has {requirement.name}=={locked}, outside {requirement.specifier}"
        )


def test_floor_constraints_pin_each_direct_dependency_to_its_floor() -> None:
    out = subprocess.run(
        [sys.executable, "scripts/dependency_floor.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert "torch==2.6" in lines and "hydra-core==1.3.2" in lines
    assert len(lines) == len(floor_script["direct_requirements"]())


def test_a_dependency_without_a_floor_is_refused(tmp_path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["torch<3", "rich>=13,<16"]\n')
    requirements = floor_script["direct_requirements"](pyproject)
    assert [floor_script["floor"](r) for r in requirements] == [None, "13"]


def make_dry_run(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    # -B: print the install commands even where .venv is up to date.
    out = subprocess.run(
        ["make", "-n", "-B", "setup", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return next(
        line
        for line in out.stdout.splitlines()
        if '-e ".[dev,export,launchers,ray,postgres]"' in line
    )


def test_make_installs_from_the_lock_unless_asked_for_the_newest() -> None:
    assert make_dry_run().endswith("-c requirements.lock")
    assert "-c" not in make_dry_run("LOCK=").split()
