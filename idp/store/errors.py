"""Errors raised by the storage layer (both the short-lived store and the relational one)."""

from __future__ import annotations

from idp.errors import Conflict, IdpError, NotFound


class StoreError(IdpError):
    """Root of the storage errors."""

    error = "store_error"
    status = 500


class StoreUnavailable(StoreError):
    """The backing server (Redis, PostgreSQL) cannot be reached or did not answer in time."""

    error = "store_unavailable"
    status = 503
    retry_after = 5

    def __init__(self, description: str, *, store: str = "database") -> None:
        super().__init__(description)
        #: which one: ``database`` or ``short_lived`` (a metrics label)
        self.store = store


class StoreFull(StoreError):
    """The in-memory store reached its configured size; a new key was refused, nothing evicted.

    Evicting would silently forget single-use markers and replay-cache entries, so the memory
    store refuses instead and says so.
    """

    error = "store_full"
    status = 503
    retry_after = 5


class WrongValueType(StoreError):
    """A key holds another kind of value than the operation works on (Redis ``WRONGTYPE``)."""

    error = "store_wrong_type"


class InvalidStoreUrl(StoreError):
    """A store URL has a scheme or option the store does not support."""

    error = "invalid_store_url"


class RecordNotFound(StoreError, NotFound):
    """A record that an update or delete names does not exist."""

    error = "not_found"
    status = 404


class DuplicateRecord(StoreError, Conflict):
    """A record with the same unique value already exists."""

    error = "conflict"
    status = 409
