"""Request ids and the JSON log format."""

from __future__ import annotations

import json
import logging

import pytest

from idp import logs


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "hideez_idp", "levelname": "INFO", "levelno": 20,
                                  "msg": message, "args": (), **extra})  # fmt: skip
    logs.RequestIdFilter().filter(made)
    return made


def test_a_proxys_short_id_is_kept_anything_else_replaced() -> None:
    assert logs.request_id_from("req-42.a:b") == "req-42.a:b"
    for hostile in (None, "", "x" * 65, "two words", "line\nbreak", "<script>", "ü"):
        made = logs.request_id_from(hostile)
        assert len(made) == 16 and made != hostile
        int(made, 16)


def test_json_lines_carry_the_request_id_and_extras() -> None:
    token = logs.request_id.set("abc123")
    try:
        line = json.loads(logs.JsonFormatter().format(record("signed in %s", args=None,
                                                             employee="e1")))  # fmt: skip
    finally:
        logs.request_id.reset(token)
    assert line["request_id"] == "abc123"
    assert (line["level"], line["logger"], line["employee"]) == ("INFO", "hideez_idp", "e1")
    assert line["message"] == "signed in %s"
    assert line["time"].endswith("+00:00")


def test_outside_a_request_the_id_is_a_dash_and_exceptions_are_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        made = record("failed", exc_info=sys.exc_info())
    line = json.loads(logs.JsonFormatter().format(made))
    assert line["request_id"] == "-"
    assert "ValueError: boom" in line["exception"]
    assert "\n" not in logs.JsonFormatter().format(made)  # one line, however long the trace


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_configure_sets_every_root_handler(log_format: str) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        logs.configure(log_format=log_format)
        logs.configure(log_format=log_format)  # twice: still one filter
        assert sum(isinstance(f, logs.RequestIdFilter) for f in handler.filters) == 1
        made = record("hello")
        text = handler.format(made)
        assert (json.loads(text)["message"] if log_format == "json" else text).endswith("hello")
    finally:
        root.removeHandler(handler)
