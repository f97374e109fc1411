pytest_plugins = ["crm.testing.fixtures"]
