"""Runs: the run page, its logs phase by phase, why it failed, and the actions on it."""
