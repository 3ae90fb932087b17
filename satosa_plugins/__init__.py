"""SATOSA frontends, backends and micro-services over :mod:`idp` (to come).

They will be thin adapters over the same protocol code the Flask IdP uses (``idp.saml``,
``idp.oidc`` including the Entra EAM profile, ``idp.wsfed``), like ``flask_idp/blueprints``.
"""
