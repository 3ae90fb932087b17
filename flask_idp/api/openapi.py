"""The OpenAPI 3.1 document, generated from the declared operations and their models.

Nothing here is written by hand per endpoint: paths, parameters, bodies and responses come
from the :class:`~flask_idp.api.Operation` records and the pydantic models' JSON Schemas
(draft 2020-12, which OpenAPI 3.1 adopts as is), the permission from the service method's
``@requires``. ``GET /api/v1/openapi.json`` serves it without authentication.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, cast

from flask import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from flask_idp.api import OPERATIONS, PREFIX, Operation, bp
from flask_idp.api.problems import MEDIA_TYPE, Problem

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{(\w+)\}")
#: problems any authenticated operation may answer with
_COMMON = {
    400: "malformed request",
    401: "no or invalid API key",
    403: "the role or the key's scopes do not allow it",
}
#: tags whose operations need the secrets envelope unlocked (the Hideez Key vault)
_NEED_SECRETS = frozenset({"keys", "key-accounts"})


def _models() -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"Problem": Problem}
    for op in OPERATIONS:
        for model in (op.response, op.query, op.body):
            if model is not None:
                found[model.__name__] = model
    return list(found.values())


def _schemas() -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    pairs = [(m, "validation" if _is_input(m) else "serialization") for m in _models()]
    keys, top = models_json_schema(pairs, ref_template=_REF)  # type: ignore[arg-type]
    refs = {cast("type[BaseModel]", model): dict(schema) for (model, _), schema in keys.items()}
    return refs, top.get("$defs", {})


def _is_input(model: type[BaseModel]) -> bool:
    return any(model in (op.body, op.query) for op in OPERATIONS)


def _problems(op: Operation) -> dict[int, str]:
    codes = dict(_COMMON)
    if "{" in op.path:
        codes[404] = "no such resource"
    if op.body is not None:
        codes.update({413: "body too large", 415: "not JSON", 422: "invalid fields"})
    if op.query is not None:
        codes[422] = "invalid query parameters"
    if op.method in ("POST", "PATCH", "DELETE"):
        codes[409] = "conflicts with what is stored"
    if op.tag in _NEED_SECRETS:
        codes[503] = "the server's secrets are locked"
    if op.if_match:
        codes.update({412: "If-Match is not the current ETag", 428: "If-Match missing"})
    if op.idempotent:
        codes.update(
            {
                409: "a request with this key is in progress",
                422: "invalid input, or the key was used for another request",
            }
        )
    return codes


def _parameters(op: Operation, defs: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 1400},
        }
        for name in _PARAM.findall(op.path)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=_REF)
        defs.update(schema.pop("$defs", {}))
        for name, prop in schema.get("properties", {}).items():
            prop = _without_null(prop)
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "schema": prop,
                    "description": prop.get("description", ""),
                }
            )
    if op.if_match:
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": op.method == "PATCH",
                "schema": {"type": "string", "maxLength": 200},
                "description": "the ETag of the version being changed",
            }
        )
    if op.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": "^[\\x20-\\x7e]+$",
                },
                "description": "a retry with the same key returns the first answer",
            }
        )
    return params


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a value: never JSON null."""
    choices = [c for c in prop.get("anyOf", []) if c != {"type": "null"}]
    if len(choices) == 1:
        rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
        return {**rest, **choices[0]}
    return prop


def _operation(op: Operation, refs: dict[type[BaseModel], Any], defs: dict[str, Any]) -> Any:
    responses: dict[str, Any] = {}
    if op.response is None:
        responses[str(op.status)] = {"description": "done"}
    else:
        ok: dict[str, Any] = {
            "description": "OK",
            "content": {"application/json": {"schema": refs[op.response]}},
        }
        if op.etag:
            ok["headers"] = {"ETag": {"schema": {"type": "string"}}}
        responses[str(op.status)] = ok
    for code, text in sorted(_problems(op).items()):
        responses[str(code)] = {
            "description": text,
            "content": {MEDIA_TYPE: {"schema": refs[Problem]}},
        }
    needs = f" Needs `{op.permission.value}`." if op.permission else ""
    spec: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": op.summary + "." + needs,
        "tags": [op.tag],
        "parameters": _parameters(op, defs),
        "responses": responses,
    }
    if op.permission is not None:
        spec["x-permission"] = op.permission.value
    if op.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[op.body]}},
        }
    return spec


@functools.cache
def document() -> dict[str, Any]:
    refs, defs = _schemas()
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hideez-idp admin API",
            "version": "1",
            "description": "Employees, passkeys, sessions, admin accounts, API keys, "
            "audit, relying parties, workstations and Hideez Keys. See docs/api.md.",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "hik_<id>_<secret>"}
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return Response(json.dumps(document()), mimetype="application/json")
