"""SATOSA frontends, backends and micro-services over :mod:`idp` (docs/satosa.md).

Thin adapters over the same protocol and flow code the Flask IdP uses (``idp.flows``,
``idp.saml``, ``idp.wsfed``): ``mfa`` (MfaMicroService), ``attributes`` (DirectoryAttributes),
``wsfed`` (WsFedFrontend), ``passwordless`` (PasswordlessBackend, HideezPages), ``saml``
(SATOSA's SAML modules signing in process), ``wsgi`` (SATOSA's app, a cheaper state cookie),
``check`` (``python -m satosa_plugins.check``); ``shell``, ``pages`` and ``config`` are what
they share. They never import Flask or ``flask_idp``.
"""
