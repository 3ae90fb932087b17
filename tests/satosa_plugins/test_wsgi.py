"""satosa_plugins.wsgi: SATOSA's state cookie at a cheap xz preset, in SATOSA's own format —
stock workers and ours read each other's cookies."""

from __future__ import annotations

from satosa.state import State

from satosa_plugins.wsgi import CheapState

KEY = "state-key-for-the-test"


def test_cookies_cross_between_stock_and_cheap_state() -> None:
    stock = State()
    stock["SATOSA_BASE"] = {"requester": "https://sp.example.org"}
    stock["HIDEEZ_MFA"] = {"key": "k" * 32}
    cheap = CheapState.adopt(stock)
    assert cheap.session_id == stock.session_id
    read_by_stock = State(cheap.urlstate(KEY), KEY)
    assert read_by_stock.state_dict == stock.state_dict
    read_by_cheap = CheapState.adopt(State(stock.urlstate(KEY), KEY))
    assert read_by_cheap.state_dict == stock.state_dict


def test_a_cheap_cookie_is_still_encrypted_under_the_key() -> None:
    state = CheapState.adopt(State())
    state["secret"] = "alice@example.com"
    cookie = state.urlstate(KEY)
    assert "alice" not in cookie
    # SATOSA's own handling: a cookie that does not decrypt becomes an empty state.
    assert "secret" not in State(cookie, "another-key")
    assert State(cookie, KEY)["secret"] == "alice@example.com"
