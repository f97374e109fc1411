# pytester runs small pytest sessions of their own (tests/crm/testing/test_ci_no_skip.py).
pytest_plugins = ["crm.testing.fixtures", "pytester"]
