"""What the repositories share: the page shape and error translation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError

from idp.store.errors import DuplicateRecord

T = TypeVar("T")
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``total`` counts every match, not only this page."""

    items: tuple[T, ...]
    total: int
    offset: int
    limit: int


def check_paging(offset: int, limit: int) -> None:
    if offset < 0:
        raise ValueError(f"offset must not be negative, got {offset}")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with ``%``/``_`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


@contextmanager
def conflicts_as(error: type[DuplicateRecord], what: str) -> Iterator[None]:
    """A unique-constraint race the pre-checks could not see, as the typed conflict."""
    try:
        yield
    except IntegrityError as exc:
        raise error(f"{what} conflicts with an existing record") from exc


def require_aware(value: dt.datetime, name: str) -> dt.datetime:
    """Times are stored as UTC: a naive one is refused before it reaches SQL."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value
