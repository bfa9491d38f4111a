"""`manage.py check --deploy` with production settings: clean, and a missing SECRET_KEY refuses to start."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Variables that would change which settings a production process gets; the tests set their own.
_INHERITED = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}


def production_env(tmp_path, **overrides) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key in _INHERITED}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="aep.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        VAR_DIR=str(tmp_path),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    env = production_env(tmp_path)
    assert len(env["SECRET_KEY"]) >= 60
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output, output


def test_production_without_secret_key_refuses_to_start(tmp_path):
    env = production_env(tmp_path, SECRET_KEY=None)
    assert "SECRET_KEY" not in env
    result = manage(env, "check", "--deploy")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "SECRET_KEY" in output
    assert "no issues" not in output


def test_production_runs_with_lockout_csp_and_denial_audit_on(tmp_path):
    """What `check --deploy` does not know about: django-axes, django-csp and the permission-denial audit are
    installed and enabled with production settings, not only in development."""
    script = ("import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({"
              "'middleware': s.MIDDLEWARE, 'backends': s.AUTHENTICATION_BACKENDS, 'axes': s.AXES_ENABLED, "
              "'csp': s.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src']}))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=production_env(tmp_path),  # noqa: S603
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    production = json.loads(result.stdout.strip().splitlines()[-1])
    assert production["axes"] is True and production["backends"][0] == "brokerages.lockout.LockoutBackend"
    assert production["middleware"][-1] == "axes.middleware.AxesMiddleware"
    assert "csp.middleware.CSPMiddleware" in production["middleware"]
    assert "brokerages.middleware.PermissionDeniedAuditMiddleware" in production["middleware"]
    assert production["csp"] == ["'self'"]
