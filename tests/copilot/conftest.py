import pytest

from .fake_llm_server import FakeLLMServer

# Short enough to keep the tests fast, long enough that a healthy local reply never trips it.
SHORT_TIMEOUT = 0.5


@pytest.fixture
def fake():
    """A scripted model server on 127.0.0.1 that the real SDKs are pointed at."""
    server = FakeLLMServer()
    server.start()
    yield server
    server.stop()
