"""Operator API tokens: JWTs signed with HS256 by JWT_SECRET.

The first key signs; every key verifies, so a key is rotated by putting the
new one first and dropping the old one once its tokens have expired. The
algorithm is pinned: a token that names another one ("none", HS512, RS256)
is refused whatever its signature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from handlers.errors import InvalidToken, NotConfigured
from store.enums import Role

ISSUER = "guestcomms"
ALGORITHM = "HS256"
DEFAULT_LIFETIME = timedelta(hours=24)
MAX_LIFETIME = timedelta(days=90)
# Clocks of the machine that issued a token and of this one may differ a little.
LEEWAY = timedelta(seconds=30)
# RFC 7518 §3.2: an HS256 key is at least as long as the hash, 256 bits.
MIN_SECRET_BYTES = 32
ROLES = tuple(role.value for role in Role)


@dataclass(frozen=True, slots=True)
class OperatorClaims:
    subject: str
    role: Role
    organisation: str | None  # an organisation's id or slug: the token sees only it
    issued_at: datetime
    expires_at: datetime


def parse_role(text: str) -> Role:
    """The role named by ``text`` (any case); ValueError naming the roles otherwise."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise ValueError(f"“{text}” is not a role: use {_either(ROLES)}") from None


def lifetime(hours: str) -> timedelta:
    """``hours`` as a token's lifetime; ValueError saying the bounds otherwise."""
    try:
        value = float(hours)
    except ValueError:
        value = math.nan
    limit = MAX_LIFETIME // timedelta(hours=1)
    if not 0 < value <= limit:  # NaN fails both
        raise ValueError(f"--hours must be a number above 0 and at most {limit}, not “{hours}”")
    return timedelta(hours=value)


class ApiTokens:
    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise NotConfigured("JWT_SECRET is not set: operator API tokens cannot be checked")
        if any(len(secret.encode()) < MIN_SECRET_BYTES for secret in secrets):
            raise NotConfigured(
                f"JWT_SECRET keys must be at least {MIN_SECRET_BYTES} bytes long "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        self._secrets = list(secrets)

    def issue(
        self,
        role: Role,
        *,
        subject: str = "operator",
        organisation: str | None = None,
        lifetime: timedelta = DEFAULT_LIFETIME,
        now: datetime | None = None,
    ) -> str:
        if not timedelta(0) < lifetime <= MAX_LIFETIME:
            raise ValueError(f"a token lives more than 0 and at most {MAX_LIFETIME} long")
        if not subject.strip():
            raise ValueError("the subject must not be empty")
        issued = (now or datetime.now(UTC)).replace(microsecond=0)
        claims: dict[str, object] = {
            "sub": subject.strip(),
            "role": Role(role).value,
            "iss": ISSUER,
            "iat": issued,
            "exp": issued + lifetime,
        }
        if organisation is not None:
            claims["org"] = organisation
        return jwt.encode(claims, self._secrets[0], algorithm=ALGORITHM)

    def verify(self, token: str) -> OperatorClaims:
        """The token's claims; InvalidToken saying what is wrong otherwise."""
        for secret in self._secrets:
            try:
                claims = jwt.decode(
                    token,
                    secret,
                    algorithms=[ALGORITHM],
                    issuer=ISSUER,
                    leeway=LEEWAY,
                    options={"require": ["exp", "iat", "iss", "sub", "role"]},
                )
            except jwt.InvalidSignatureError:
                continue  # perhaps signed with an older key
            except jwt.ExpiredSignatureError:
                raise InvalidToken("the token has expired; make a new one") from None
            except jwt.ImmatureSignatureError:
                raise InvalidToken("the token was issued in the future") from None
            except jwt.InvalidAlgorithmError:
                raise InvalidToken(f"the token is not signed with {ALGORITHM}") from None
            except jwt.MissingRequiredClaimError as error:
                raise InvalidToken(f"the token has no “{error.claim}” claim") from None
            except jwt.InvalidIssuerError:
                raise InvalidToken(f"the token was not issued by {ISSUER}") from None
            except jwt.InvalidTokenError:
                raise InvalidToken("the token is not a well-formed JWT") from None
            return _claims(claims)
        raise InvalidToken("the token's signature does not match any JWT_SECRET key")


def _claims(claims: dict[str, object]) -> OperatorClaims:
    role, organisation = claims.get("role"), claims.get("org")
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidToken(f"the token's “role” claim must be one of {_either(ROLES)}")
    if organisation is not None and not isinstance(organisation, str | int):
        raise InvalidToken("the token's “org” claim must be an organisation id or slug")
    return OperatorClaims(
        subject=str(claims["sub"]),
        role=Role(role),
        organisation=None if organisation is None else str(organisation),
        issued_at=_moment(claims["iat"]),
        expires_at=_moment(claims["exp"]),
    )


def _moment(value: object) -> datetime:
    # PyJWT has compared it with the clock, so it reads as a number.
    return datetime.fromtimestamp(float(str(value)), UTC)


def _either(values: Sequence[str]) -> str:
    return ", ".join(values[:-1]) + " or " + values[-1]
