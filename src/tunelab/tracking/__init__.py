"""Everything MLflow: run setup, config flattening, the sweep callback, summaries and plots."""
