"""Composition root: the CLI, `up`, `demo`, `doctor` and the bench runner wire every layer together."""
