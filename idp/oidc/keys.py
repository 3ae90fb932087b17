"""JWS keys as joserfc objects, built once at start, the published JWKS, and strict JWT checks.

Nothing here loads a key from disk: :func:`keys_from_signing_keys` wraps the
:class:`~idp.keys.SigningKey` objects the runtime loaded once. The JWKS publishes the current
and the next key of each algorithm (OIDC Core §10.1.1: relying parties such as Entra cache keys
for 24 h, so a key is published before it signs) with ``kid``, ``use``, ``alg`` and ``x5c``,
and never private or symmetric material.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from idp.keys import KeySet, SigningKey
from idp.oidc.errors import (
    JwtAlgorithmError,
    JwtClaimsError,
    JwtMalformedError,
    JwtSignatureError,
    JwtUnknownKeyError,
)

SIGNING_ALGORITHMS = ("RS256", "ES256")
MAX_JWT_BYTES = 16 * 1024
#: 9999-12-31T23:59:59Z: the last second a datetime can hold, so any accepted date converts
MAX_NUMERIC_DATE = 253_402_300_799
JoseKey = RSAKey | ECKey
#: the key type each accepted algorithm needs (an HS256 header with an RSA key is refused here)
_KTY = {"RS256": "RSA", "ES256": "EC"}


@dataclass(frozen=True, eq=False)
class JwsKey:
    """One signing key: joserfc object, ``kid``, algorithm and certificate chain."""

    kid: str
    alg: str
    key: JoseKey
    x5c: tuple[str, ...] = ()

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = dict(self.key.as_dict(private=False))
        jwk.update(kid=self.kid, use="sig", alg=self.alg)
        if self.x5c:
            jwk["x5c"] = list(self.x5c)
        return jwk


def jws_key(signing_key: SigningKey) -> JwsKey:
    """Wrap a loaded :class:`SigningKey` (RSA → RS256, P-256 → ES256)."""
    private = signing_key.private_key
    key: JoseKey
    if isinstance(private, rsa.RSAPrivateKey):
        key = RSAKey.import_key(private)
    elif isinstance(private.curve, ec.SECP256R1):
        key = ECKey.import_key(private)
    else:
        raise ValueError(f"ES256 needs a P-256 key, got curve {private.curve.name}")
    return JwsKey(signing_key.kid, signing_key.algorithm, key, (signing_key.cert_der_b64,))


@dataclass(frozen=True)
class OidcKeys:
    """The keys that sign (one current key per algorithm) and the ones only published."""

    current: Mapping[str, JwsKey]
    upcoming: tuple[JwsKey, ...] = ()
    _by_kid: dict[str, JwsKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_kid = {k.kid: k for k in (*self.current.values(), *self.upcoming)}
        object.__setattr__(self, "_by_kid", by_kid)

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(a for a in SIGNING_ALGORITHMS if a in self.current)

    def sign(self, claims: Mapping[str, Any], *, alg: str = "RS256", typ: str = "JWT") -> str:
        """A compact JWS over ``claims`` with the current key for ``alg``.

        ``typ`` types the token explicitly (RFC 8725 §3.11), e.g. ``logout+jwt`` for a Logout
        Token, so that one kind of token cannot be passed off as another.
        """
        key = self.current.get(alg)
        if key is None:
            raise ValueError(f"no signing key for {alg}; configured: {', '.join(self.current)}")
        header = {"alg": alg, "kid": key.kid, "typ": typ}
        payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
        return jws.serialize_compact(header, payload, key.key, algorithms=[alg])

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self._by_kid.values()]}

    def lookup(self, kid: str) -> JoseKey | None:
        found = self._by_kid.get(kid)
        return None if found is None else found.key


def keys_from_signing_keys(rsa_keys: KeySet, ec_keys: KeySet | None) -> OidcKeys:
    current = {"RS256": jws_key(rsa_keys.current)}
    upcoming = [jws_key(rsa_keys.next)] if rsa_keys.next is not None else []
    if ec_keys is not None:
        current["ES256"] = jws_key(ec_keys.current)
        if ec_keys.next is not None:
            upcoming.append(jws_key(ec_keys.next))
    for alg, key in current.items():
        if key.alg != alg:
            raise ValueError(f"the {alg} signing key is a {key.alg} key")
    return OidcKeys(current=current, upcoming=tuple(upcoming))


@dataclass(frozen=True)
class VerifiedJwt:
    header: Mapping[str, Any]
    claims: Mapping[str, Any]


def verify_jwt(
    token: str,
    *,
    lookup: Callable[[str], JoseKey | None],
    algorithms: tuple[str, ...],
    what: str = "token",
) -> VerifiedJwt:
    """Check a compact JWS signature strictly; the caller checks the claims.

    ``alg`` must be one of ``algorithms`` (never ``none`` or an HMAC algorithm: RFC 8725 §2.1
    and §3.1), ``kid`` must name a trusted key of the matching type, and the signature must
    verify with that key.
    """
    header = _header(token, what)
    alg = header.get("alg")
    if alg not in algorithms:
        raise JwtAlgorithmError(f"{what}: expected alg {' or '.join(algorithms)}, got {alg!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 256:
        raise JwtUnknownKeyError(f"{what}: the header has no usable kid")
    key = lookup(kid)
    if key is None:
        raise JwtUnknownKeyError(f"{what}: signed by an unknown key (kid {kid[:64]!r})")
    if key.key_type != _KTY[alg]:
        raise JwtAlgorithmError(f"{what}: alg {alg} does not fit the {key.key_type} key {kid!r}")
    try:
        obj = jws.deserialize_compact(token, key, algorithms=[alg])
    except JoseError:
        raise JwtSignatureError(f"{what}: the signature does not verify") from None
    try:
        claims = json.loads(obj.payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise JwtMalformedError(f"{what}: the payload is not JSON") from None
    if not isinstance(claims, dict):
        raise JwtMalformedError(f"{what}: the payload is not a JSON object")
    return VerifiedJwt(header=header, claims=claims)


def numeric_date(claims: Mapping[str, Any], name: str, *, what: str) -> int | None:
    """The NumericDate claim ``name`` (RFC 7519 §2) as whole seconds, or None when absent.

    A value that is not a finite number from 1970 to year 9999 is refused with a message
    naming the claim, so no caller meets an OverflowError converting or comparing it.
    """
    value = claims.get(name)
    if value is None:
        return None
    # bool is an int to Python; a huge int cannot become a float (OverflowError), so test
    # its range as an int; a float may be inf or nan.
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if not number or (isinstance(value, float) and not math.isfinite(value)):
        raise JwtClaimsError(f"{what}: {name} must be a NumericDate, got {_shown(value)}")
    if not 0 <= value <= MAX_NUMERIC_DATE:
        raise JwtClaimsError(f"{what}: {name} {_shown(value)} is not a date from 1970 to year 9999")
    return int(value)


def _shown(value: object) -> str:
    # str() of an int over 4,300 digits raises ValueError; nobody needs to read it anyway.
    if isinstance(value, int) and abs(value) > 10**20:
        return "(a number of more than 20 digits)"
    return repr(value)[:40]


def unverified_header(token: str, *, what: str = "token") -> Mapping[str, Any]:
    """The decoded JOSE header (for routing only; nothing in it is trusted)."""
    return _header(token, what)


def _header(token: str, what: str) -> dict[str, Any]:
    if not isinstance(token, str) or len(token) > MAX_JWT_BYTES:
        raise JwtMalformedError(f"{what}: expected a JWT of at most {MAX_JWT_BYTES} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtMalformedError(f"{what}: expected three dot-separated parts, got {len(parts)}")
    try:
        header = json.loads(_b64url(parts[0]))
    except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError):
        raise JwtMalformedError(f"{what}: the header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise JwtMalformedError(f"{what}: the header is not a JSON object")
    if "crit" in header or "jku" in header or "jwk" in header or "x5u" in header:
        # Keys come from our configuration only, never from the token itself.
        raise JwtMalformedError(f"{what}: header parameters crit/jku/jwk/x5u are not accepted")
    return header


def _b64url(part: str) -> bytes:
    if not part or any(c not in _B64URL for c in part):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
