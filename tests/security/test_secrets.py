"""Secrets only from the environment: nothing key-shaped is committed, settings read every secret from the
environment (the one literal is the DEBUG-only default key), and model provider keys are settings, never stored
per brokerage. (A production start without SECRET_KEY is refused: tests/test_deploy_check.py.)"""

import ast
import re
from pathlib import Path

from brokerages import settings_registry

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", ".venv", "node_modules", "var", "__pycache__", ".ruff_cache", ".hypothesis", ".pytest_cache",
                "media", "staticfiles"}
TEXT_SUFFIXES = {".py", ".txt", ".md", ".html", ".css", ".js", ".json", ".yml", ".yaml", ".toml", ".ini", ".cfg",
                 ".sh", ".env", ".example", ""}

KEY_SHAPES = {
    "Anthropic key": re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}"),
    "OpenAI-style key": re.compile(r"\bsk-[A-Za-z0-9]{32,}"),
    "Google API key": re.compile(r"AIza[0-9A-Za-z_-]{35}"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
    "Stripe key": re.compile(r"\b[rs]k_live_[A-Za-z0-9]{16,}"),
    "integration key of this platform": re.compile(r"\baep_[a-z0-9]{8}_[A-Za-z0-9_-]{32,}"),
}


def _repository_files():
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRS for part in relative.parts) or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in {"Dockerfile", "Procfile", "Makefile"}:
            yield relative, path


def test_nothing_key_shaped_is_committed():
    found = []
    for relative, path in _repository_files():
        text = path.read_text(errors="replace")
        for kind, pattern in KEY_SHAPES.items():
            for match in pattern.finditer(text):
                found.append(f"{relative}: {kind} {match.group(0)[:12]}…")
    assert found == [], "secrets in the repository:\n" + "\n".join(found)


def _settings_assignments() -> dict[str, list[ast.expr]]:
    tree = ast.parse((ROOT / "config" / "settings.py").read_text())
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
    return assigned


def _reads_environment(value: ast.expr) -> bool:
    source = ast.unparse(value)
    return "os.environ" in source


# Settings whose names sound secret but hold none.
NOT_SECRETS = {"AUTH_PASSWORD_VALIDATORS", "PASSWORD_RESET_TIMEOUT", "API_KEY_THROTTLE_RATE"}


def test_every_secret_setting_comes_from_the_environment():
    literal = []
    for name, values in _settings_assignments().items():
        if not re.search(r"SECRET|PASSWORD|API_KEY|TOKEN", name) or name in NOT_SECRETS:
            continue
        for value in values:
            is_debug_default = (name == "SECRET_KEY" and isinstance(value, ast.Constant)
                                and value.value == "embedded-default-insecure-key-only-for-local-use")
            if not _reads_environment(value) and not is_debug_default:
                literal.append(f"{name} = {ast.unparse(value)[:60]}")
    assert literal == [], f"secrets written into settings: {literal}"


def test_the_only_literal_key_is_guarded_by_debug():
    source = (ROOT / "config" / "settings.py").read_text()
    guard = source.index('if not SECRET_KEY:\n    if not DEBUG:\n        raise ImproperlyConfigured(')
    assert source.index('SECRET_KEY = "embedded-default-insecure-key-only-for-local-use"') > guard


def test_model_provider_keys_are_settings_never_brokerage_data():
    """A brokerage picks an engine by name; the keys are the deployment's (ANTHROPIC_API_KEY, GEMINI_API_KEY),
    so no key is ever stored in the database or shown on a page."""
    keys = [spec.key for spec in settings_registry.SETTINGS]
    assert "ai_provider" in keys
    assert not [key for key in keys if re.search(r"key|secret|token|password", key)], keys
    for app in ("brokerages", "copilot", "nurturing", "coaching", "analytics"):
        models = (ROOT / app / "models.py").read_text()
        assert not re.search(r"(api_key|provider_key|anthropic|gemini)\w*\s*=\s*models\.", models, re.I), app
