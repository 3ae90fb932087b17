"""The admin REST API under ``/api/v1``: it only translates HTTP to the admin services.

Each endpoint is declared once with :func:`operation`, which both registers the Flask route
and records an :class:`Operation` — the models it reads and writes, the permission its
service method needs, whether it takes ``If-Match`` or ``Idempotency-Key`` — from which
:mod:`flask_idp.api.openapi` generates the OpenAPI document. A handler receives the caller's
:class:`~idp.admin.access.Actor` and the already-validated models and returns a model.
Errors are rendered once, as problem+json (RFC 9457), in :mod:`flask_idp.api.problems`.

A few endpoints need more than JSON in and out, each declared on the operation: ``upload``
takes a multipart form (the file part of that name, as bytes, the text parts validated by
``body``), ``max_body`` raises the size limit, ``download`` answers a
:class:`~idp.admin.models.Download` as a file of that media type, ``location`` sets the
``Location`` of an accepted (202) or created resource, and ``csv`` renders the result as CSV
when the client asks (``Accept: text/csv`` or ``?format=csv``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from flask_idp.web import runtime
from idp.admin.access import Actor, Permission, check
from idp.admin.idempotency import Answer, fingerprint
from idp.admin.models import Download, etag_of, field_error
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
    max_body: int = MAX_BODY_BYTES
    upload: str | None = None
    download: str | None = None
    location: Callable[[Any], str] | None = None
    csv: Callable[[Any], str] | None = None


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


def _read_body(model: type[BaseModel], limit: int = MAX_BODY_BYTES) -> BaseModel:
    if request.content_length is not None and request.content_length > limit:
        raise RequestTooLarge(f"the request body is larger than {limit} bytes")
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"send the body as application/json, not {request.mimetype or 'nothing'!r}"
        )
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise RequestTooLarge(f"the request body is larger than {limit} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the body is not valid JSON") from None
    return model.model_validate(data)


def read_upload(
    model: type[BaseModel], part: str, limit: int, *, skip: tuple[str, ...] = ()
) -> tuple[BaseModel, bytes]:
    """A multipart form's text fields but ``skip`` (validated by ``model``) and its ``part``."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestTooLarge(f"the upload is larger than {limit} bytes")
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType(
            f"send the file as multipart/form-data, not {request.mimetype or 'nothing'!r}"
        )
    request.max_content_length = limit
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        raise RequestTooLarge(f"the upload is larger than {limit} bytes") from None
    found = files.get(part)
    if found is None:
        raise InvalidRequest(f"the form has no file part named {part!r}")
    content = found.read(limit + 1)
    if len(content) > limit:
        raise RequestTooLarge(f"the file is larger than {limit} bytes")
    return model.model_validate({k: form[k] for k in form if k not in skip}), content


def _read_query(model: type[BaseModel], skip: str | None = None) -> BaseModel:
    data: dict[str, Any] = {}
    for name in request.args:
        if name == skip:
            continue
        values = request.args.getlist(name)
        data[name] = values[0] if len(values) == 1 else values
    return model.model_validate(data)


def wants_csv() -> bool:
    """The client asked for CSV: ``?format=csv``, or an Accept preferring text/csv to JSON."""
    if "format" in request.args:
        wanted = request.args.get("format")
        if wanted not in ("csv", "json"):
            raise field_error("format", f"expected csv or json, got {str(wanted)[:20]!r}")
        return wanted == "csv"
    accept = request.accept_mimetypes
    return accept["text/csv"] > accept["application/json"]


def _respond(op: Operation, result: BaseModel | None) -> Answer:
    if result is None:
        return Answer(status=204, body=b"")
    if isinstance(result, Download):
        return Answer(status=op.status, body=result.content)
    if op.csv is not None and wants_csv():
        return Answer(status=op.status, body=op.csv(result).encode("utf-8"))
    return Answer(status=op.status, body=result.model_dump_json().encode())


def _media_type(op: Operation, answer: Answer) -> str | None:
    if not answer.body:
        return None
    if op.download is not None and answer.status < 300:
        return op.download
    if op.csv is not None and answer.status < 300 and wants_csv():
        return "text/csv"
    return "application/json"


def _send(op: Operation, answer: Answer, result: BaseModel | None, replayed: bool) -> Response:
    response = Response(answer.body or None, status=answer.status, mimetype=_media_type(op, answer))
    if isinstance(result, Download):
        response.headers["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    if op.location is not None and result is not None:
        response.headers["Location"] = PREFIX + op.location(result)
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
    max_body: int = MAX_BODY_BYTES,
    upload: str | None = None,
    download: str | None = None,
    location: Callable[[Any], str] | None = None,
    csv: Callable[[Any], str] | None = None,
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
            max_body=max_body,
            upload=upload,
            download=download,
            location=location,
            csv=csv,
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
            kwargs["query"] = _read_query(op.query, "format" if op.csv else None)
        if op.body is not None and op.upload is not None:
            kwargs["body"], kwargs[op.upload] = read_upload(op.body, op.upload, op.max_body)
        elif op.body is not None:
            kwargs["body"] = _read_body(op.body, op.max_body)
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
        routes_backup,
        routes_devices,
        routes_employees,
        routes_keys,
        routes_keys_accounts,
        routes_organisation,
        routes_sync,
        routes_workstation_audit,
        routes_workstations,
    )


_load_routes()
