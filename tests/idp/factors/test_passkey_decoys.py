"""Decoy credentials (WebAuthn L3 §14.6.2): stable per username, shaped like real enrolments."""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from idp.factors.passkey_decoys import (
    AUTHENTICATOR_SHAPES,
    COUNT_WEIGHTS,
    decoy_credentials,
)
from tests.idp.factors.passkey_fakes import unb64u

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
SALT = "a-server-secret-of-the-pairwise-kind"
USERNAMES = [f"user{i:05d}@example.com" for i in range(4000)]
SHAPES = {transports: lengths for transports, lengths, _ in AUTHENTICATOR_SHAPES}


def decoys(username: str, salt: str = SALT) -> tuple[tuple[str, ...], ...]:
    return tuple(
        (c.credential_id, *c.transports)
        for c in decoy_credentials(salt=salt, username=username, now=NOW)
    )


def test_the_same_username_gets_the_same_decoys_every_time() -> None:
    first = decoys("mallory")
    assert first == decoys("mallory")
    # The spellings that find one employee find one decoy too.
    assert first == decoys("  MALLORY ")
    # Later requests (another `now`) answer the same.
    later = decoy_credentials(salt=SALT, username="mallory", now=NOW + dt.timedelta(days=30))
    assert tuple((c.credential_id, *c.transports) for c in later) == first


def test_decoys_depend_on_the_server_secret() -> None:
    # Without the salt nobody can compute a decoy and compare it with the server's answer.
    assert decoys("mallory") != decoys("mallory", salt="another-server")


def test_decoys_cannot_be_used_to_sign_in() -> None:
    for credential in decoy_credentials(salt=SALT, username="mallory", now=NOW):
        assert credential.public_key == b"" and credential.employee_id == ""


def test_every_decoy_has_a_real_authenticators_shape() -> None:
    seen_ids: set[str] = set()
    for username in USERNAMES[:1000]:
        for credential in decoy_credentials(salt=SALT, username=username, now=NOW):
            assert credential.transports in SHAPES
            # Browsers report transports sorted (§5.2.1.2 getTransports), so do decoys.
            assert list(credential.transports) == sorted(credential.transports)
            assert len(unb64u(credential.credential_id)) in SHAPES[credential.transports]
            assert "=" not in credential.credential_id
            seen_ids.add(credential.credential_id)
    assert len(seen_ids) > 1000  # ids are not reused across usernames


def test_counts_and_shapes_follow_the_enrolment_weights() -> None:
    """Over many usernames the decoys' counts and shapes are distributed like the weights of
    real enrolments (each frequency within 2.5 points), and every shape occurs."""
    counts: collections.Counter[int] = collections.Counter()
    shapes: collections.Counter[tuple[str, ...]] = collections.Counter()
    lengths: dict[tuple[str, ...], set[int]] = collections.defaultdict(set)
    for username in USERNAMES:
        found = decoy_credentials(salt=SALT, username=username, now=NOW)
        counts[len(found)] += 1
        for credential in found:
            shapes[credential.transports] += 1
            lengths[credential.transports].add(len(unb64u(credential.credential_id)))
    total_weight = sum(w for _, w in COUNT_WEIGHTS)
    for count, weight in COUNT_WEIGHTS:
        assert counts[count] / len(USERNAMES) == pytest.approx(weight / total_weight, abs=0.025)
    assert set(counts) == {c for c, _ in COUNT_WEIGHTS}
    credentials = sum(shapes.values())
    shape_weight = sum(w for _, _, w in AUTHENTICATOR_SHAPES)
    for transports, allowed_lengths, weight in AUTHENTICATOR_SHAPES:
        assert shapes[transports] / credentials == pytest.approx(weight / shape_weight, abs=0.025)
        assert lengths[transports] == set(allowed_lengths)
