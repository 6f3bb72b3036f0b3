"""Stacks: the overview and its query, a stack's page, history, modules, and exports."""
