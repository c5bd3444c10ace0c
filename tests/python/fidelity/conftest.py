"""Shared helpers: the charm-sim binary, a runnable copy of a charm, running a scenario."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]


def charm_sim_bin() -> str:
    """The charm-sim binary: $CHARM_SIM_BIN (set by the Rust test), else a local debug build."""
    explicit = os.environ.get('CHARM_SIM_BIN')
    if explicit:
        return explicit
    for target in (os.environ.get('CARGO_TARGET_DIR'), str(REPO / 'target')):
        if target and (pathlib.Path(target) / 'debug' / 'charm-sim').is_file():
            return str(pathlib.Path(target) / 'debug' / 'charm-sim')
    pytest.fail('charm-sim binary not found: set CHARM_SIM_BIN or run `cargo build -p charm-sim`')


def make_charm(tmp_path: pathlib.Path, src: pathlib.Path, entry: str) -> pathlib.Path:
    """Copies a charm into tmp_path (ops keeps .unit-state.db in the charm dir) and writes a
    dispatch that runs `entry` with this interpreter (Juju clears the environment, so the
    interpreter path is baked in)."""
    charm = tmp_path / 'charm'
    shutil.copytree(src, charm)
    dispatch = charm / 'dispatch'
    dispatch.write_text(f'#!/bin/sh\nexec {sys.executable} {entry}\n')
    dispatch.chmod(0o755)
    return charm


def run_sim(charm: pathlib.Path, scenario: dict, tmp_path: pathlib.Path) -> dict:
    """Runs charm-sim on a scenario (written as JSON) and returns its output document."""
    path = tmp_path / 'scenario.json'
    path.write_text(json.dumps(scenario))
    proc = subprocess.run(
        [charm_sim_bin(), 'run', '--charm', str(charm), '--scenario', str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
