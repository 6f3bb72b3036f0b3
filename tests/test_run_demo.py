"""`make run`'s script: a taken port stops it at once, with the way out."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run-demo"


@pytest.mark.parametrize("variable", ["SIM_PORT", "PORT"])
def test_a_taken_port_stops_the_demo_before_anything_starts(variable, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), variable: str(port)}
        other = "PORT" if variable == "SIM_PORT" else "SIM_PORT"
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            env[other] = str(free.getsockname()[1])
        result = subprocess.run(
            ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert f"Port {port} is in use" in result.stderr
    assert f"make run {variable}=" in result.stderr
    assert "is starting" not in result.stdout
