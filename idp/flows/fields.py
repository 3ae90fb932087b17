"""Checked fields of the JSON bodies the sign-in pages send."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from idp.errors import InvalidRequest

MAX_CREDENTIAL_JSON = 32 * 1024


def str_field(
    data: Mapping[str, Any], name: str, *, max_len: int = 1024, required: bool = True
) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"field {name!r} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidRequest(f"field {name!r} is longer than {max_len} characters")
    return value


def credential_json(data: Mapping[str, Any]) -> str:
    """The WebAuthn credential object of the body, as JSON for the ceremony functions."""
    credential = data.get("credential")
    if not isinstance(credential, dict):
        raise InvalidRequest("field 'credential' must be the WebAuthn credential object")
    text = json.dumps(credential)
    if len(text) > MAX_CREDENTIAL_JSON:
        raise InvalidRequest(f"credential is larger than {MAX_CREDENTIAL_JSON} bytes")
    return text
