"""The test plugin's rule for CI (CI=true): a test that needs a real service it cannot reach
fails instead of skipping, and so does a run with such a skip, on one process or several."""

from __future__ import annotations

import pytest

INNER_TESTS = """
import pytest
from crm.testing.fixtures import SERVICE_SKIP_PREFIX, need_service


def test_needs_a_service_that_is_not_there():
    need_service("pretend service not configured")


def test_skipped_for_want_of_a_service():
    pytest.skip(f"{SERVICE_SKIP_PREFIX} pretend browser not installed")


def test_runs():
    assert True
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_in_ci_a_missing_service_fails_the_run(pytester, monkeypatch, workers):
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest('pytest_plugins = ["crm.testing.fixtures"]')
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *workers)
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*pretend service not configured (CI must run this test)*"])
    result.stdout.fnmatch_lines(["CI: 1 test(s) needing * were skipped"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_on_a_developers_machine_a_missing_service_skips(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest('pytest_plugins = ["crm.testing.fixtures"]')
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.OK
