"""TOTP arithmetic against RFC 6238 Appendix B's test vectors, the ±1 step window, reuse."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess

import pytest

from idp.factors.authenticator.errors import TotpError, TotpReused
from idp.factors.authenticator.totp import new_secret, provisioning_uri, verify_code

# RFC 6238 Appendix B: the seeds are ASCII "1234567890" repeated to the hash's length.
SHA1_SEED = base64.b32encode(b"12345678901234567890").decode()
SHA256_SEED = base64.b32encode(b"12345678901234567890123456789012").decode()
VECTORS = [  # (time, SHA1 code, SHA256 code), 8 digits, 30 s steps
    (59, "94287082", "46119246"),
    (1111111109, "07081804", "68084774"),
    (1234567890, "89005924", "91819424"),
    (2000000000, "69279037", "90698825"),
]


@pytest.mark.parametrize(("t", "sha1", "sha256"), VECTORS)
def test_rfc6238_appendix_b(t: int, sha1: str, sha256: str) -> None:
    at = dt.datetime.fromtimestamp(t, dt.UTC)
    for secret, algorithm, code in ((SHA1_SEED, "SHA1", sha1), (SHA256_SEED, "SHA256", sha256)):
        match = verify_code(secret=secret, code=code, now=at, algorithm=algorithm, digits=8,
                            period=30, last_used_step=None)  # fmt: skip
        assert match.step == t // 30


def test_one_step_either_side_and_no_further() -> None:
    secret = new_secret()
    now = dt.datetime(2026, 12, 2, 9, 0, 10, tzinfo=dt.UTC)

    def code_at(seconds: int) -> str:
        moment = f"@{int(now.timestamp()) + seconds}"
        return subprocess.run(["oathtool", "--totp", "-b", "-N", moment, secret], check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip

    for offset in (-30, 0, 30):
        verify_code(secret=secret, code=code_at(offset), now=now, algorithm="SHA1", digits=6,
                    period=30, last_used_step=None)  # fmt: skip
    for offset in (-60, 60):
        with pytest.raises(TotpError, match="not correct"):
            verify_code(secret=secret, code=code_at(offset), now=now, algorithm="SHA1",
                        digits=6, period=30, last_used_step=None)  # fmt: skip


def test_a_step_at_or_before_the_last_used_one_is_a_reuse() -> None:
    at = dt.datetime.fromtimestamp(59, dt.UTC)
    with pytest.raises(TotpReused):
        verify_code(secret=SHA1_SEED, code="94287082", now=at, algorithm="SHA1", digits=8,
                    period=30, last_used_step=1)  # fmt: skip


def test_secrets_are_160_bits_and_the_uri_says_how_to_use_them() -> None:
    secret = new_secret()
    assert len(base64.b32decode(secret)) == 20 and new_secret() != secret
    uri = provisioning_uri(secret=secret, account="alice@example.com", issuer="Hideez IdP",
                           algorithm="SHA256", digits=8, period=30)  # fmt: skip
    assert uri == (f"otpauth://totp/Hideez%20IdP:alice@example.com?secret={secret}"
                   "&issuer=Hideez%20IdP&algorithm=SHA256&digits=8&period=30")  # fmt: skip


@pytest.mark.parametrize("code", ["12345", "1234567", "12a456", ""])
def test_malformed_codes(code: str) -> None:
    with pytest.raises(TotpError, match="6-digit"):
        verify_code(secret=new_secret(), code=code, now=dt.datetime.now(dt.UTC),
                    algorithm="SHA1", digits=6, period=30, last_used_step=None)  # fmt: skip
