"""Make a fork your own: rename the package, its imports, its Hydra plugins, and every mention.

python scripts/rename_project.py NEW_NAME

Renames every folder of the project whose name carries the project's (src/tunelab to
src/NEW_NAME, src/hydra_plugins/tunelab_optuna_sweeper and tunelab_ray_launcher to
NEW_NAME_optuna_sweeper and NEW_NAME_ray_launcher, and any a fork adds), and replaces
tunelab / TUNELAB / Tunelab in every text file of the project, committed or not (imports,
pyproject.toml, configs, the default MLflow experiment, environment variables, docs). It checks
everything before it changes anything; review the result with `git status` and `git diff`.
"""

import keyword
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"[a-z][a-z0-9_]*")


def current_name() -> str:
    match = re.search(r'^name = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    if not match:
        raise SystemExit("pyproject.toml has no project name: is this the template's root?")
    return match.group(1)


def problem_with(new: str, old: str) -> str | None:
    if new == old:
        return f"the project is already named {new!r}: nothing to do"
    if not NAME.fullmatch(new) or keyword.iskeyword(new):
        return f"{new!r} is not a valid Python package name: use lowercase letters, digits and _, starting with a letter"
    if old in new:
        return f"{new!r} contains the current name {old!r}: pick a name without it"
    if not (ROOT / "src" / old).is_dir():
        return f"src/{old} is missing: the tree is not the template's"
    for folder in named_folders(old):
        if (target := folder.with_name(folder.name.replace(old, new))).exists():
            return f"{target} exists already"
    return None


def named_folders(old: str) -> list[Path]:
    """The project's folders whose name carries `old`, deepest first (so that renaming one
    never moves another that is still to be renamed)."""
    folders = {
        parent
        for path in project_text_files()
        for parent in path.relative_to(ROOT).parents
        if old in parent.name
    }
    return sorted((ROOT / f for f in folders), key=lambda p: len(p.parts), reverse=True)


def project_text_files() -> list[Path]:
    """The text files of the project: what git tracks and what it would add (not ignored),
    so files not committed yet are renamed too."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if listing.returncode != 0:
        return [
            p
            for p in ROOT.rglob("*")
            if p.is_file() and ".git" not in p.parts and ".venv" not in p.parts
        ]
    files = []
    for name in listing.stdout.split("\0"):
        path = ROOT / name
        if name and path.is_file():
            try:
                path.read_text()
            except UnicodeDecodeError:
                continue  # binary
            files.append(path)
    return files


def rename(new: str) -> None:
    old = current_name()
    if problem := problem_with(new, old):
        raise SystemExit(f"rename_project: {problem}")
    spellings = [(old, new), (old.upper(), new.upper()), (old.capitalize(), new.capitalize())]
    folders = named_folders(old)
    changed = 0
    for path in project_text_files():
        text = path.read_text()
        renamed = text
        for before, after in spellings:
            renamed = renamed.replace(before, after)
        if renamed != text:
            path.write_text(renamed)
            changed += 1
    for folder in folders:
        folder.rename(folder.with_name(folder.name.replace(old, new)))
    (ROOT / ".venv" / ".installed").unlink(missing_ok=True)  # make reinstalls the renamed package
    moved = ", ".join(str(f.relative_to(ROOT)) for f in reversed(folders))
    print(f"renamed {old} -> {new}: {changed} files edited, {len(folders)} folders moved ({moved})")
    stores = [name for name in ("mlflow.db", "mlartifacts") if (ROOT / name).exists()]
    if stores:  # their runs stay in the experiment named after the old project
        print(
            f"{' and '.join(stores)} keep the runs of experiment '{old}'; `make clean` removes them"
        )
    print("next: rm -rf .venv && make test   (commit when you like: the tests do not need it)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    rename(sys.argv[1])
