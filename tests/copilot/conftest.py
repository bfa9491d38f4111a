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


def brokerage_on_fake_claude(settings, fake, brokerage, owner) -> None:
    """Point the Claude engine at the fake server (no retries, a short timeout) and set the brokerage to use it."""
    from brokerages.services import settings_update

    settings.ANTHROPIC_API_KEY = "test-anthropic-key"
    settings.ANTHROPIC_MODEL = "claude-test"
    settings.ANTHROPIC_BASE_URL = fake.base_url
    settings.LLM_TIMEOUT_SECONDS = SHORT_TIMEOUT
    settings.LLM_MAX_RETRIES = 0
    settings_update(brokerage=brokerage, actor=owner, values={"ai_provider": "anthropic"})
