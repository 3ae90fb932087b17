"""WS-Federation 1.2 passive requestor STS (Exchange OWA/ECP, WIF, SharePoint), sans-IO.

Nothing in this package does IO or knows a web framework: the shells (``flask_idp`` and the
SATOSA frontend) pass parameters, settings, keys and the time in, and send what comes back.

- :func:`idp.wsfed.requests.parse_request` — check ``wsignin1.0`` / ``wsignout1.0`` /
  ``wsignoutcleanup1.0`` parameters;
- :func:`idp.wsfed.tokens.build_signin_response` — the signed SAML 1.1 / 2.0 token in an RSTR;
- :func:`idp.wsfed.metadata.build_metadata` — signed federation metadata;
- :func:`idp.wsfed.signout.plan_signout` — the ``wsignoutcleanup1.0`` fan-out;
- :func:`idp.wsfed.runtime.build` — signers prepared and proved once at start.
"""
