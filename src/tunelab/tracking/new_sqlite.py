"""A new SQLite store in milliseconds: a copy of an empty store that MLflow has already migrated.

MLflow builds a new SQLite store by running every Alembic migration since its first release
(about 60 in MLflow 3.x): 2-4 s of CPU for each new `mlflow.db`, paid by every fresh
project, benchmark scratch folder and test. tunelab keeps one migrated, empty store per MLflow
version in the user's cache (~/.cache/tunelab, $XDG_CACHE_HOME) and copies it. The copy holds
no experiment: MLflow creates its Default experiment on first open, with this store's own
artifact root. (MLflow's own test suite caches a migrated database the same way, mlflow#18005.)
Anything that goes wrong here leaves the store to MLflow, which creates it as before.
"""

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path


def seed_new_store(database: Path) -> None:
    """Create `database` from the cached migrated empty store, when it does not exist yet.
    The caller holds the store's creation lock (tunelab.tracking.store.open_store)."""
    if database.exists() and database.stat().st_size > 0:
        return
    try:
        template = _migrated_empty_store()
        partial = database.with_name(f".{database.name}.{os.getpid()}.new")
        shutil.copyfile(template, partial)
        os.replace(partial, database)  # whole or not at all
    except Exception:  # no home folder, a full disk, a cache from elsewhere: MLflow migrates
        return  # the new file itself, as it would without this module


def _migrated_empty_store() -> Path:
    """The cached store for this MLflow version, made once: migrated, then emptied."""
    import mlflow

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tunelab"
    template = cache / f"mlflow-{mlflow.__version__}-empty.db"
    if template.exists():
        return template
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        built = Path(scratch) / "store.db"
        store = SqlAlchemyStore(f"sqlite:///{built}", str(Path(scratch) / "artifacts"))
        store.engine.dispose()
        db = sqlite3.connect(built)
        with db:  # the Default experiment points into `scratch`: MLflow makes the store's own
            db.execute("DELETE FROM experiments")
        db.close()
        os.replace(built, template)  # two processes building it at once: either copy serves
    return template
