"""``make audit-deps``: fail on known vulnerabilities in the installed dependencies.

pip-audit does the auditing, against PyPI's vulnerability data (its ``pypi``
service: one request per installed release). Vulnerabilities that do not
apply to guestcomms are listed, each with its reason, in
``dependency-audit-ignore.toml``; nothing else is ignored.

Some networks let only part of PyPI through. When PyPI's per-release JSON
API does not answer (pip-audit would then audit nothing), this falls back
to PyPI's per-project JSON API, which lists the vulnerabilities of each
project's newest release: every dependency installed at its newest release
is audited that way, and the others are named as not audited. It never
hangs: each request has a timeout, and so has the whole run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILE = Path(os.environ.get("AUDIT_DEPS_IGNORE_FILE", ROOT / "dependency-audit-ignore.toml"))
# Tests point it at a local stand-in of PyPI's JSON API.
PYPI = os.environ.get("AUDIT_DEPS_PYPI_URL", "https://pypi.org/pypi")
REQUEST_SECONDS = 15
RUN_SECONDS = 600
PROJECT = "guestcomms"
IN_CI = os.environ.get("CI", "").lower() == "true"


def main() -> int:
    try:
        ignored = read_ignore_list(IGNORE_FILE)
    except ValueError as error:
        print(f"audit-deps: {IGNORE_FILE.name} cannot be used: {error}", file=sys.stderr)
        return 2
    installed = installed_distributions()
    probe = f"{PYPI}/pip-audit/{metadata.version('pip-audit')}/json"
    problem = unreachable(probe)
    if problem is None:
        return run_pip_audit(ignored)
    print(
        f"audit-deps: PyPI's per-release vulnerability API does not answer here ({problem} "
        f"from {probe}), so pip-audit cannot look dependencies up; using PyPI's "
        "per-project API instead, which covers each project's newest release.",
        file=sys.stderr,
    )
    return audit_newest_releases(installed, ignored)


def read_ignore_list(path: Path) -> dict[str, str]:
    """ID → reason; an entry without a reason is refused (every ignore must say why)."""
    if not path.exists():
        return {}
    entries = tomllib.loads(path.read_text()).get("ignore", [])
    ignored = {}
    for entry in entries:
        vulnerability, reason = str(entry.get("id", "")).strip(), str(entry.get("reason", ""))
        if not vulnerability or not reason.strip():
            raise ValueError(f"every [[ignore]] needs an id and a reason: {entry!r}")
        ignored[vulnerability] = reason.strip()
    return ignored


def installed_distributions() -> dict[str, str]:
    """Installed name → version, without guestcomms itself (it is not on PyPI)."""
    found = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name and _canonical(name) != PROJECT:
            found[_canonical(name)] = distribution.version
    return dict(sorted(found.items()))


def unreachable(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_SECONDS) as answer:  # noqa: S310
            answer.read(1)
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        return f"{type(error).__name__}: {getattr(error, 'reason', error)}"
    return None


def run_pip_audit(ignored: dict[str, str]) -> int:
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--vulnerability-service=pypi",
        "--strict",  # a dependency that cannot be looked up fails the audit
        "--skip-editable",
        "--progress-spinner=off",
        f"--timeout={REQUEST_SECONDS}",
        "--desc=on",
        *(f"--ignore-vuln={vulnerability}" for vulnerability in ignored),
    ]
    try:
        done = subprocess.run(command, timeout=RUN_SECONDS, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        print(
            f"audit-deps: pip-audit did not finish within {RUN_SECONDS} s (PyPI answers "
            "too slowly from here); the dependencies were not audited.",
            file=sys.stderr,
        )
        return 1
    return done.returncode


def audit_newest_releases(installed: dict[str, str], ignored: dict[str, str]) -> int:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = dict(zip(installed, pool.map(_project, installed), strict=True))
    failures = {name: why for name, (_, why) in answers.items() if why}
    if len(failures) == len(installed):
        example = next(iter(failures.values()), "no answer")
        print(f"audit-deps: PyPI does not answer either ({example}).", file=sys.stderr)
        print("audit-deps: the dependencies were NOT audited.", file=sys.stderr)
        return 1 if IN_CI else 0
    found, not_audited = [], []
    for name, version in installed.items():
        project, why = answers[name]
        newest = project.get("info", {}).get("version") if project else None
        if project is None or newest != version:
            not_audited.append(
                f"{name} {version}" + (f" (newest {newest})" if newest else f" ({why})")
            )
            continue
        for vulnerability in project.get("vulnerabilities") or []:
            ids = {vulnerability.get("id"), *(vulnerability.get("aliases") or [])}
            if vulnerability.get("withdrawn") or ids & set(ignored):
                continue
            fixed = ", ".join(vulnerability.get("fixed_in") or []) or "no fix yet"
            found.append(f"{name} {version}: {vulnerability.get('id')} (fixed in {fixed})")
    audited = len(installed) - len(not_audited)
    print(f"audit-deps: {audited} of {len(installed)} installed distributions audited.")
    if not_audited:
        print(
            "audit-deps: not audited (older than their newest release, which is all PyPI's "
            "per-project API describes): " + "; ".join(not_audited)
        )
    if found:
        print("audit-deps: known vulnerabilities:\n  " + "\n  ".join(found), file=sys.stderr)
        return 1
    print("audit-deps: no known vulnerabilities in the audited ones.")
    return 0


def _project(name: str) -> tuple[dict[str, Any] | None, str]:
    url = f"{PYPI}/{name}/json"
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_SECONDS) as answer:  # noqa: S310
            project: dict[str, Any] = json.load(answer)
            return project, ""
    except urllib.error.HTTPError as error:
        return None, f"HTTP {error.code}"
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        return None, f"{type(error).__name__}"


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


if __name__ == "__main__":
    raise SystemExit(main())
