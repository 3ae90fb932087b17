"""OpenID Connect provider and the Entra ID External Authentication Method (sans-IO).

Nothing in this package (but ``backchannel``, when a logout calls it) does network or file IO
on a request path, reads the clock, or knows about Flask or SATOSA: each request is parsed by a
function that takes explicit inputs (parameters, the client registry, ``now``) and returns a
frozen dataclass or raises one typed :class:`~idp.oidc.errors.OidcError`. The shells
(``flask_idp/blueprints/oidc.py``, the SATOSA frontend) translate HTTP to those calls and back.
Short-lived state (codes, tokens, pending requests) goes through
:class:`~idp.store.ephemeral.base.EphemeralStore`, passed in.

Modules: ``errors`` (wire errors), ``keys`` (joserfc key objects, JWKS, JWS), ``clients``
(registered RPs and client authentication), ``authorize`` (authorization requests),
``claims`` (scopes → claims), ``grants`` (codes, access and refresh tokens), ``tokens``
(id_token claims), ``provider`` (the token, userinfo, discovery and logout endpoints),
``logout_channels`` (Front-/Back-Channel Logout: Logout Tokens, front-channel URLs, the logout
plan), ``backchannel`` (the one module that does network IO on demand: POSTing Logout
Tokens), ``eam`` (Entra External Authentication Method), ``runtime`` (built once at start).
"""
