"""The lifecycle table against DESIGN.md's list, written out here independently: every
(status, action) pair is either exactly the documented move or refused by name."""

from __future__ import annotations

import itertools

import pytest

from idp.vault.states import (
    IllegalTransition,
    InvalidReason,
    VaultAction,
    VaultReason,
    VaultStatus,
    sources,
    transition,
)

S, A, R = VaultStatus, VaultAction, VaultReason
EXPECTED: dict[tuple[VaultStatus, VaultAction], tuple[VaultStatus, VaultReason | None]] = {
    (S.READY, A.ASSIGN): (S.RESERVED, None),
    (S.RESERVED, A.CANCEL): (S.READY, None),
    (S.RESERVED, A.LINK): (S.ACTIVE, None),
    (S.SUSPENDED, A.LINK): (S.ACTIVE, None),
    (S.ACTIVE, A.KEY_LOCKED): (S.LOCKED, R.LOCKED_BY_INVALID_PIN),
    (S.RESERVED, A.CODE_EXHAUSTED): (S.LOCKED, R.INVALID_ACTIVATION_CODE),
    (S.SUSPENDED, A.CODE_EXHAUSTED): (S.LOCKED, R.INVALID_ACTIVATION_CODE),
    (S.ACTIVE, A.SUSPEND): (S.SUSPENDED, None),
    (S.LOCKED, A.SUSPEND): (S.SUSPENDED, None),
    (S.SUSPENDED, A.REACTIVATE): (S.ACTIVE, None),
    (S.DEACTIVATED, A.WIPED): (S.READY, None),
    **{
        (s, A.DEACTIVATE): (S.DEACTIVATED, R.LOST)
        for s in (S.RESERVED, S.ACTIVE, S.LOCKED, S.SUSPENDED)
    },
    **{(s, A.COMPROMISE): (S.COMPROMISED, None) for s in S if s is not S.COMPROMISED},
}
ALL_PAIRS = list(itertools.product(VaultStatus, VaultAction))


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS, ids=lambda v: v.value)
def test_every_pair_is_the_documented_move_or_refused(
    status: VaultStatus, action: VaultAction
) -> None:
    reason = R.LOST if action is A.DEACTIVATE else None
    if (status, action) in EXPECTED:
        assert transition(status, action, reason=reason) == EXPECTED[status, action]
        return
    with pytest.raises(IllegalTransition) as caught:
        transition(status, action, reason=reason)
    assert caught.value.status == 409
    expected = f"'{action.value}' is not allowed for a key that is {status.value}"
    assert expected in caught.value.description
    assert caught.value.from_status is status and caught.value.action is action


def test_compromised_is_terminal() -> None:
    assert all((S.COMPROMISED, a) not in EXPECTED for a in A)
    for action in A:
        with pytest.raises(IllegalTransition):
            transition(S.COMPROMISED, action, reason=R.LOST if action is A.DEACTIVATE else None)


@pytest.mark.parametrize("reason", [R.WITHDRAWAL, R.LOST, R.STOLEN, R.BROKEN])
def test_deactivation_carries_the_admins_reason(reason: VaultReason) -> None:
    assert transition(S.ACTIVE, A.DEACTIVATE, reason=reason) == (S.DEACTIVATED, reason)


@pytest.mark.parametrize(
    "reason", [None, R.INVALID_ACTIVATION_CODE, R.LOCKED_BY_INVALID_PIN], ids=str
)
def test_deactivation_refuses_a_missing_or_key_made_reason(reason: VaultReason | None) -> None:
    with pytest.raises(InvalidReason, match="needs a reason"):
        transition(S.ACTIVE, A.DEACTIVATE, reason=reason)


def test_other_actions_take_no_reason() -> None:
    with pytest.raises(InvalidReason, match="takes no reason"):
        transition(S.READY, A.ASSIGN, reason=R.LOST)


def test_the_refusal_names_where_the_action_is_allowed() -> None:
    assert sources(A.SUSPEND) == (S.ACTIVE, S.LOCKED)
    with pytest.raises(IllegalTransition, match=r"allowed from: active, locked"):
        transition(S.READY, A.SUSPEND)
