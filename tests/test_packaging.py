"""What ships is the portal: no simulator, demo command or tests in the wheel or the image."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent
NOT_SHIPPED = ("simulator", "tests", "bench", "scripts")


def test_the_wheel_holds_the_portal_packages_only():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = config["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(where=str(ROOT), include=found["include"])
    assert "dashboard" in packages and "spacelift_portal" in packages
    assert {name.split(".")[0] for name in packages} == {"dashboard", "spacelift_portal"}
    # No management commands at all: the demo's admin/admin account must not be one away.
    assert not [name for name in packages if "management" in name or "simulator" in name]
    assert "package-data" not in config["tool"]["setuptools"]


def test_the_image_copies_no_simulator_tests_or_tools():
    copied = re.findall(r"^COPY\s+(.+?)\s+\S+$", (ROOT / "Dockerfile").read_text(), re.M)
    sources = {part for line in copied for part in line.split()}
    assert "dashboard" in sources
    assert not sources & set(NOT_SHIPPED)
    assert "." not in sources  # a whole-tree copy would bring everything back
