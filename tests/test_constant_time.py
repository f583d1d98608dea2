"""Secrets are compared in constant time: no ``==``, ``!=`` or ``in`` on anything named
like a signature, token, secret, password, HMAC or credential in the project's code.

``==`` stops at the first differing byte, so the time of a refusal tells an
attacker how much of a forged signature was right. Verification is left to
the libraries that do it in constant time (Twilio's RequestValidator,
slack_sdk's SignatureVerifier, svix, itsdangerous, PyJWT) or done with
``hmac.compare_digest``. This walks every module's syntax tree; a comparison
that merely looks like one (a field name compared with a constant) is listed
below with the reason it is not a secret.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "dispatch", "store")
SECRETISH = re.compile(
    r"signature|secret|password|passwd|token|hmac|api_key|credential|authorization", re.I
)
COMPARISONS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)

# (module, the comparison as written) → why it compares no secret.
NOT_SECRETS: dict[tuple[str, str], str] = {
    ("dispatch/compose/compliance.py", "token in composer.wedding_values"): (
        "a template token's name ({{venue_name}}), not a credential"
    ),
}


def _words(node: ast.AST) -> list[str]:
    """The names and texts an operand is made of (``self.token``, ``"Bearer …"``)."""
    words: list[str] = []
    for part in ast.walk(node):
        if isinstance(part, ast.Name):
            words.append(part.id)
        elif isinstance(part, ast.Attribute):
            words.append(part.attr)
        elif isinstance(part, ast.Constant) and isinstance(part.value, str):
            words.append(part.value)
    return words


def _is_none_or_literal_check(node: ast.Compare) -> bool:
    """``token is None``, ``x == ""``, ``scheme.lower() != "bearer"``: no secret's bytes
    are compared — one side is None, empty, or a fixed word that is not secret."""
    operands = [node.left, *node.comparators]
    for operand in operands:
        if isinstance(operand, ast.Constant) and (
            operand.value is None or operand.value == "" or isinstance(operand.value, bool | int)
        ):
            return True
    return False


def non_constant_time_comparisons(
    root: Path = ROOT, packages: tuple[str, ...] = PACKAGES
) -> list[str]:
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            module = path.relative_to(root).as_posix()
            for node in ast.walk(ast.parse(path.read_text(), module)):
                if not isinstance(node, ast.Compare):
                    continue
                if not any(isinstance(op, COMPARISONS) for op in node.ops):
                    continue
                if _is_none_or_literal_check(node):
                    continue
                operands = [node.left, *node.comparators]
                if not any(SECRETISH.search(w) for o in operands for w in _words(o)):
                    continue
                written = ast.unparse(node)
                if (module, written) not in NOT_SECRETS:
                    found.append(f"{module}:{node.lineno}: {written}")
    return found


def test_no_secret_is_compared_with_eq_ne_or_in() -> None:
    assert non_constant_time_comparisons() == []


def test_the_check_finds_what_it_is_for(tmp_path: Path) -> None:
    """The walk itself works: the comparisons this project had before they were fixed
    are found; checks against None and constant-time ones are not."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "checks.py").write_text(
        "import hmac\n"
        "def cached(known, token):\n"
        "    return known.token == token\n"
        "def header(request, self):\n"
        "    return request.headers.get('Authorization') != f'Bearer {self.token}'\n"
        "def signed(signature, expected):\n"
        "    return signature in {expected}\n"
        "def fine(token, given, expected):\n"
        "    return token is None or hmac.compare_digest(given, expected)\n"
    )
    found = non_constant_time_comparisons(tmp_path, ("pkg",))
    assert [line.split(": ", 1)[0] for line in found] == [
        "pkg/checks.py:3",
        "pkg/checks.py:5",
        "pkg/checks.py:7",
    ]
