"""After training: comparing runs (comparison.py) and classical baselines beside the networks (baselines.py)."""
