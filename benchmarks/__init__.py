"""Measured figures: each script prints a table and writes it as JSON beside itself."""
