"""``make audit-deps`` (tools/audit_deps.py) run as make runs it, against a local stand-in
of PyPI's JSON API that, like this machine's network, does not serve per-release pages."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from aiohttp import web

from tests.fakes.server import BackgroundServer

ROOT = Path(__file__).resolve().parent.parent
VULNERABLE = "structlog"
ADVISORY = {
    "id": "GHSA-test-0000-0001",
    "aliases": ["CVE-2099-0001"],
    "fixed_in": ["99.0"],
    "withdrawn": None,
    "summary": "made up for this test",
}


def pypi_stand_in() -> web.Application:
    async def project(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            return web.Response(status=404)
        vulnerabilities = [ADVISORY] if name == VULNERABLE else []
        return web.json_response({"info": {"version": version}, "vulnerabilities": vulnerabilities})

    async def release(_request: web.Request) -> web.Response:
        return web.Response(status=404)  # as here: only per-project pages get through

    app = web.Application()
    app.router.add_get("/{name}/json", project)
    app.router.add_get("/{name}/{version}/json", release)
    return app


@pytest.fixture
def pypi() -> Iterator[str]:
    with BackgroundServer(pypi_stand_in()) as server:
        yield server.url


def audit(pypi: str, ignore_file: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUDIT_DEPS_PYPI_URL": pypi}
    if ignore_file is not None:
        env["AUDIT_DEPS_IGNORE_FILE"] = ignore_file
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "audit_deps.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_known_vulnerability_fails_naming_it(pypi: str) -> None:
    done = audit(pypi)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PyPI's per-release vulnerability API does not answer here (HTTP 404" in done.stderr
    version = metadata.version(VULNERABLE)
    assert f"{VULNERABLE} {version}: GHSA-test-0000-0001 (fixed in 99.0)" in done.stderr


def test_an_ignored_vulnerability_with_a_reason_passes(pypi: str, tmp_path: Path) -> None:
    ignore = tmp_path / "ignore.toml"
    ignore.write_text(
        '[[ignore]]\nid = "CVE-2099-0001"\nreason = "we never call the affected function"\n'
    )
    done = audit(pypi, str(ignore))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no known vulnerabilities in the audited ones" in done.stdout


def test_an_ignore_without_a_reason_is_refused(pypi: str, tmp_path: Path) -> None:
    ignore = tmp_path / "ignore.toml"
    ignore.write_text('[[ignore]]\nid = "CVE-2099-0001"\nreason = ""\n')
    done = audit(pypi, str(ignore))
    assert done.returncode == 2
    assert "every [[ignore]] needs an id and a reason" in done.stderr
