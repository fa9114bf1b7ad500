"""tunelab: tune deep-learning models with every experiment tracked."""
