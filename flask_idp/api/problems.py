"""Errors of the admin API as problem+json (RFC 9457), rendered in this one place.

Every problem has ``type`` (a URN naming the error code), ``title`` (the HTTP status
phrase), ``status``, ``detail`` (what was expected and what arrived), ``error`` (the same
code the rest of the IdP uses) and ``error_id`` (to find it in the log); invalid input adds
``errors``, one ``{field, message}`` per problem, so a form can show each beside its field.
"""

from __future__ import annotations

import logging
import secrets
from http import HTTPStatus

from flask import Response
from pydantic import Field, ValidationError
from werkzeug.exceptions import HTTPException

from flask_idp.api import bp
from idp.admin.models import FieldError, InvalidInput, Output
from idp.errors import IdpError

log = logging.getLogger("hideez_idp.api")
MEDIA_TYPE = "application/problem+json"


class Problem(Output):
    type: str = Field(description="urn:hideez-idp:error:<error>")
    title: str
    status: int
    detail: str
    error: str
    error_id: str
    errors: list[FieldError] = Field(default_factory=list)


def problem_response(
    status: int, error: str, detail: str, error_id: str, errors: list[FieldError] | None = None
) -> Response:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = Problem(
        type=f"urn:hideez-idp:error:{error}",
        title=title,
        status=status,
        detail=detail,
        error=error,
        error_id=error_id,
        errors=errors or [],
    )
    response = Response(body.model_dump_json(), status=status, mimetype=MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="hideez-idp admin API"'
    return response


def invalid_input(exc: ValidationError) -> InvalidInput:
    errors = []
    for item in exc.errors(include_url=False, include_input=False)[:50]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "not a field you can set here (read-only or unknown)"
        errors.append(FieldError(field=where, message=message))
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return InvalidInput(f"the input does not fit: {summary}", errors=errors)


@bp.errorhandler(IdpError)
def _idp_error(exc: IdpError) -> Response:
    log.info("api refused: %s %s (%s) id=%s", exc.status, exc.error, exc.description, exc.error_id)
    errors = exc.errors if isinstance(exc, InvalidInput) else None
    response = problem_response(exc.status, exc.error, exc.description, exc.error_id, errors)
    response.headers.update(exc.headers())
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    name = (exc.name or "error").lower().replace(" ", "_")
    response = problem_response(status, name, exc.description or exc.name, secrets.token_hex(6))
    for header, value in exc.get_headers():
        if header.lower() != "content-type":
            response.headers[header] = value
    return response
