"""tunelab: tune deep-learning models with every experiment tracked."""

from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "conf"  # the repository's config groups, as train.py's
