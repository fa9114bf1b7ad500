"""The jobs the entry points run (train, eval, export): one wrapper, their specs, the checks of
their configs before anything heavy is imported."""
