"""`fostercrm up` warns when links we send would point somewhere other than where the service
is reached: the consent wording links the privacy notice at service.public_base_url."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from crm.cli.serve import public_address_warning
from crm.testing.fixtures import POSTGRES_ENV, make_test_settings


def settings_with(public_base_url: str, proxies: int = 0):  # noqa: ANN201
    base = make_test_settings()
    service = base.service.model_copy(
        update={"public_base_url": public_base_url, "trusted_proxies": proxies}
    )
    return base.model_copy(update={"service": service})


@pytest.mark.parametrize(
    ("public", "proxies", "host", "port", "warns"),
    [
        # The defaults: served where the links point.
        ("http://127.0.0.1:5000", 0, "127.0.0.1", 5000, False),
        ("http://localhost:5000", 0, "127.0.0.1", 5000, False),
        # The default address while serving elsewhere: links would reach nobody.
        ("http://127.0.0.1:5000", 0, "127.0.0.1", 8000, True),
        ("http://127.0.0.1:5000", 0, "0.0.0.0", 5000, True),
        ("http://127.0.0.1:5000", 2, "0.0.0.0", 8000, True),
        # A real name served directly: the port must match.
        ("https://fostering.example.org", 0, "0.0.0.0", 443, False),
        ("http://fostering.example.org:8000", 0, "0.0.0.0", 8000, False),
        ("https://fostering.example.org", 0, "0.0.0.0", 8000, True),
        ("http://fostering.example.org:8000", 0, "127.0.0.1", 8000, True),
        # Behind a proxy the public address is the proxy's.
        ("https://fostering.example.org", 1, "127.0.0.1", 8000, False),
    ],
)
def test_the_warning_says_when_links_point_elsewhere(public, proxies, host, port, warns):
    warning = public_address_warning(settings_with(public, proxies), host, port)
    assert (warning is not None) == warns
    if warns:
        assert public in warning and f"{host}:{port}" in warning
        assert "FOSTERCRM_SERVICE_PUBLIC_BASE_URL" in warning


def test_up_prints_the_warning_at_start_up(tmp_path):
    # A free port, so runs side by side (xdist workers, two checkouts) never meet.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOSTERCRM_")}
    env.pop(POSTGRES_ENV, None)
    env["FOSTERCRM_DATABASE_URL"] = f"sqlite:///{tmp_path / 'warn.db'}"
    env["FOSTERCRM_SECRET_KEY"] = "a-secret-key-long-enough-for-the-test"
    process = subprocess.Popen(
        [sys.executable, "-m", "crm.cli", "up", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The warning comes before the database is even migrated: read it, then stop.
        line = process.stderr.readline()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert line.startswith("Warning: links in messages and consent wording point at")
    assert "http://127.0.0.1:5000" in line and f"127.0.0.1:{port}" in line
