"""Password hashes: argon2's real parameters wherever Fostercrm runs, the cheapest ones only in
this test suite (crm.testing.fixtures swaps them in)."""

from __future__ import annotations

import os
import subprocess
import sys

from argon2 import PasswordHasher, extract_parameters

from crm.services.staff import hash_password, timing_hash, verify_password
from crm.settings import PROJECT_ROOT


def test_outside_the_test_plugin_hashes_use_argon2s_own_parameters():
    # A fresh interpreter, with a deployment's environment as far as the tests can tell.
    code = "from crm.services.staff import hash_password, timing_hash; print(hash_password('x'))"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()
    production = PasswordHasher()
    params = extract_parameters(out)
    assert out.startswith("$argon2id$")
    assert (params.time_cost, params.memory_cost, params.parallelism) == (
        production.time_cost,
        production.memory_cost,
        production.parallelism,
    )
    assert params.memory_cost >= 64 * 1024


def test_in_the_tests_hashes_are_cheap_and_still_checked():
    password_hash = hash_password("correct horse battery staple")
    assert extract_parameters(password_hash).memory_cost < 1024
    assert verify_password(password_hash, "correct horse battery staple")
    assert not verify_password(password_hash, "correct horse battery stapler")
    # The hash an unknown email is checked against has the same parameters as real ones.
    assert extract_parameters(timing_hash()) == extract_parameters(password_hash)
    assert not verify_password(timing_hash(), "")
