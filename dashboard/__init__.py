"""Spacelift Portal's one Django app: pages that show Spacelift stacks and runs to a team."""
