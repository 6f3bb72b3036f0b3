"""Figures, not tests: what the portal costs Spacelift and how quickly it answers."""
