"""The Spacelift connection: where it comes from, its secret at rest, its settings and test."""
