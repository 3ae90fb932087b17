"""The admin REST API under ``/api/v1``: it only translates HTTP to the admin services.

Each endpoint is declared once with :func:`operation`, which both registers the Flask route
and records an :class:`Operation` — the models it reads and writes, the permission its
service method needs, whether it takes ``If-Match`` or ``Idempotency-Key`` — from which
:mod:`flask_idp.api.openapi` generates the OpenAPI document. A handler receives the caller's
:class:`~idp.admin.access.Actor` and the already-validated models and returns a model.
Errors are rendered once, as problem+json (RFC 9457), in :mod:`flask_idp.api.problems`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ValidationError

from flask_idp.web import runtime
from idp.admin.access import Actor, Permission, check
from idp.admin.idempotency import Answer, fingerprint
from idp.admin.models import etag_of
from idp.admin.services import AdminServices, build_admin_services
from idp.errors import InvalidRequest, RequestTooLarge, Unauthorized

PREFIX = "/api/v1"
#: request bodies are small JSON objects; anything larger is refused before parsing
MAX_BODY_BYTES = 64 * 1024

bp = Blueprint("api", __name__, url_prefix=PREFIX)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    permission: Permission | None
    response: type[BaseModel] | None
    status: int
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    if_match: bool
    idempotent: bool
    etag: bool


OPERATIONS: list[Operation] = []


class UnsupportedMediaType(InvalidRequest):
    error = "unsupported_media_type"
    status = 415


def services() -> AdminServices:
    found = current_app.extensions.get("hideez_idp_admin")
    if found is None:
        found = current_app.extensions["hideez_idp_admin"] = build_admin_services(runtime())
    built: AdminServices = found
    return built


def authenticate() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API key: Authorization: Bearer hik_…")
    return services().accounts.authenticate_key(token.strip())


def _read_body(model: type[BaseModel]) -> BaseModel:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise RequestTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"send the body as application/json, not {request.mimetype or 'nothing'!r}"
        )
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise RequestTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the body is not valid JSON") from None
    return model.model_validate(data)


def _read_query(model: type[BaseModel]) -> BaseModel:
    data: dict[str, Any] = {}
    for name in request.args:
        values = request.args.getlist(name)
        data[name] = values[0] if len(values) == 1 else values
    return model.model_validate(data)


def _respond(op: Operation, result: BaseModel | None) -> Answer:
    if result is None:
        return Answer(status=204, body=b"")
    return Answer(status=op.status, body=result.model_dump_json().encode())


def _send(op: Operation, answer: Answer, result: BaseModel | None, replayed: bool) -> Response:
    response = Response(
        answer.body or None,
        status=answer.status,
        mimetype="application/json" if answer.body else None,
    )
    if op.etag and result is not None:
        response.headers["ETag"] = etag_of(result)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Cache-Control"] = "no-store"
    return response


def operation(
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    needs: Callable[..., Any],
    response: type[BaseModel] | None = None,
    status: int = 200,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    if_match: bool = False,
    idempotent: bool = False,
    etag: bool = False,
) -> Callable[[Callable[..., BaseModel | None]], Callable[..., BaseModel | None]]:
    """Declare an endpoint. ``needs`` is the service method it calls: its ``@requires``
    permission is what the document lists (the method checks it again when called)."""

    def register(handler: Callable[..., BaseModel | None]) -> Callable[..., BaseModel | None]:
        op = Operation(
            method=method,
            path=path,
            operation_id=handler.__name__,
            summary=summary,
            tag=tag,
            permission=getattr(needs, "__permission__", None),
            response=response,
            status=status,
            query=query,
            body=body,
            if_match=if_match,
            idempotent=idempotent,
            etag=etag,
        )
        OPERATIONS.append(op)

        def view(**params: str) -> Response:
            return _dispatch(op, handler, params)

        flask_path = path.replace("{", "<").replace("}", ">").replace("<rp_id>", "<path:rp_id>")
        bp.add_url_rule(flask_path, endpoint=handler.__name__, view_func=view, methods=[method])
        return handler

    return register


def _inputs(op: Operation, params: dict[str, str]) -> dict[str, Any]:
    """The handler's keyword arguments: path parameters and the validated query and body."""
    kwargs: dict[str, Any] = dict(params)
    try:
        if op.query is not None:
            kwargs["query"] = _read_query(op.query)
        if op.body is not None:
            kwargs["body"] = _read_body(op.body)
    except ValidationError as exc:
        from flask_idp.api.problems import invalid_input

        raise invalid_input(exc) from None
    if op.if_match:
        kwargs["if_match"] = request.headers.get("If-Match")
    return kwargs


def _dispatch(
    op: Operation, handler: Callable[..., BaseModel | None], params: dict[str, str]
) -> Response:
    actor = authenticate()
    if op.permission is not None:  # before the input is read: a refusal tells nothing
        check(actor, op.permission)
    kwargs = _inputs(op, params)
    results: list[BaseModel | None] = []

    def produce() -> Answer:
        results.append(handler(actor, **kwargs))
        answer = _respond(op, results[0])
        return Answer(answer.status, answer.body, _replay_body(results[0]))

    key = request.headers.get("Idempotency-Key") if op.idempotent else None
    if key is None:
        return _send(op, produce(), results[0], False)
    request_id = fingerprint(op.method, request.path, request.get_data(cache=True))
    answer, replayed = services().idempotency.run(
        actor=actor.name, key=key, request=request_id, produce=produce
    )
    return _send(op, answer, results[0] if results else None, replayed)


def _replay_body(result: BaseModel | None) -> bytes | None:
    """A result with a one-time secret is replayed without it (see idp.admin.idempotency)."""
    redact = getattr(result, "redacted", None)
    if callable(redact):
        replay: BaseModel = redact()
        return replay.model_dump_json().encode()
    return None


def _load_routes() -> None:
    from flask_idp.api import (  # noqa: F401
        openapi,
        problems,
        routes_accounts,
        routes_devices,
        routes_employees,
        routes_keys,
        routes_keys_accounts,
        routes_organisation,
        routes_sync,
        routes_workstations,
    )


_load_routes()
