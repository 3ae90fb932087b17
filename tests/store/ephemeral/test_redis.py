"""What only the Redis store has: records packed into one string (see idp.store.ephemeral.redis).
The contract itself is tested against both stores in test_contract.py."""

from __future__ import annotations

import pytest

from idp.store.ephemeral import RedisStore
from idp.store.ephemeral.redis import MAGIC
from idp.store.errors import WrongValueType

pytestmark = pytest.mark.redis

AWKWARD = {
    "plain": b"1",
    "colons:in:name": b"12:34:56",
    "digits 99:": b"99:" * 40,
    "empty": b"",
    "bin\u00e4r": bytes(range(256)),
    "p:saml:https://sp.example.org/shibboleth|" + "n" * 43 + "|_" + "i" * 32: b"",
}


def test_awkward_names_and_values_survive_merging(redis_store: RedisStore) -> None:
    redis_store.record_put("h", {"plain": b"0", "empty": b"x"}, ttl=60)
    redis_store.record_put("h", AWKWARD, ttl=60)
    assert redis_store.record_update("h", {"later": b"y", "plain": b"1"}, ttl=60)
    assert redis_store.record_get("h", refresh_ttl=60) == {**AWKWARD, "later": b"y"}


def test_one_string_value_in_redis(redis_store: RedisStore) -> None:
    redis_store.record_put("h", {"a": b"1"}, ttl=60)
    raw = redis_store.client.get(redis_store.prefix + "h")
    assert isinstance(raw, bytes) and raw.startswith(MAGIC)
    assert redis_store.client.type(redis_store.prefix + "h") == b"string"


def test_session_sized_record_stays_small(redis_store: RedisStore) -> None:
    # What bench/session_memory.py measures, as a bound: a signed-in session with three
    # participants fits in well under 1 KB (as a Redis hash the same took ~1.1 KB).
    instant = b"2026-12-02T03:04:05.678901+00:00"
    fields = {"v": b"1", "employee_id": b"e" * 32, "created_at": instant,
              "auth_time": instant, "factors": b"f" * 160,
              "p:saml:https://github.com/orgs/example|" + "n" * 43 + "|_" + "i" * 32: b"",
              "p:oidc:webapp|" + "s" * 43: b"", "p:wsfed|owa": b""}  # fmt: skip
    redis_store.record_put("session:x", fields, ttl=3600)
    usage = redis_store.client.memory_usage(redis_store.prefix + "session:x", samples=0)
    assert usage is not None and usage < 800


def test_a_plain_value_may_not_look_like_a_hash(redis_store: RedisStore) -> None:
    with pytest.raises(ValueError, match="record marker"):
        redis_store.put("s", MAGIC + b"1:a1:b", ttl=60)
    with pytest.raises(ValueError, match="record marker"):
        redis_store.add_if_absent("s", MAGIC, ttl=60)
    assert redis_store.get("s") is None


@pytest.mark.parametrize(
    "damaged",
    [MAGIC + b"1:a", MAGIC + b"x:a1:b", MAGIC + b"1:a9:b", MAGIC + b"1:\xff1:b"],
    ids=["no-colon", "bad-length", "runs-past-end", "name-not-utf8"],
)
def test_a_damaged_record_is_the_wrong_type_not_a_crash(
    redis_store: RedisStore, damaged: bytes
) -> None:
    redis_store.client.set(redis_store.prefix + "session:x", damaged)
    with pytest.raises(WrongValueType, match=r"record GET 'session:…': the record is damaged"):
        redis_store.record_get("session:x")
