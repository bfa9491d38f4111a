def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz: the schemathesis run over the whole API (tests/api/test_fuzz.py)")
