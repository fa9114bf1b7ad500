"""Data sources (one module each) and the one DataModule that splits and serves them."""
