import pytest

# pytester runs small pytest sessions of their own (tests/crm/testing/test_ci_no_skip.py).
pytest_plugins = ["crm.testing.fixtures", "pytester"]

# The files that take longest (`python -m pytest -n 1 --durations=120`, summed by file: about
# 20 to 90 seconds each on this 2-core machine), longest first. Under `-n auto --dist loadfile`
# xdist hands out whole files in collection order, so these go first: the other workers then
# even out with the many short files, instead of one worker finishing a long file alone at the
# end. Only the order changes; every file still runs whole, on one worker.
SLOWEST_FIRST = (
    "tests/integration/test_fuzz_public_web.py",
    "tests/integration/test_fuzz_telegram.py",
    "tests/bot/test_channels.py",
    "tests/crm/test_cli_up_processes.py",
    "tests/crm/web/test_query_counts.py",
    "tests/crm/testing/test_ci_no_skip.py",
    "tests/crm/test_plans.py",
    "tests/integration/test_scheduler_restart.py",
    "tests/browser/test_journeys.py",
    "tests/bot/test_understanding.py",
    "tests/crm/test_cli.py",
    "tests/bot/test_knowledge.py",
    "tests/browser/test_assessment_browser.py",
    "tests/integration/test_scheduler_two_instances.py",
    "tests/funnel/test_report.py",
    "tests/browser/test_keeping_carers_browser.py",
    "tests/bot/test_safeguarding_model.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(SLOWEST_FIRST)}
    # A stable sort: each file's tests keep their order and stay together.
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
