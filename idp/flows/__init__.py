"""The sign-in and sign-out flow, once, for every shell (Flask IdP, SATOSA plugins, tests).

Sans-IO: a shell turns its HTTP request into the flow's inputs — a
:class:`~idp.flows.browser.Browser` (which browser, its session, its address) and the
protocol's parameters — and renders the :class:`~idp.flows.answers.Answer` that comes back (a
redirect, an auto-posted form, a page or a JSON body, plus what to do with the session
cookie). Nothing here imports a web framework.

- ``browser``  the browser as the flow sees it;
- ``answers``  what a flow step asks the shell to send;
- ``parking``  protocol requests kept while the browser signs in, and login tickets;
- ``signin``   begin → decide → (park, sign-in page, factor steps) → resume → finish;
- ``steps``    the factor step interface and the session a successful step leads to;
- ``passkey_step``, ``password_step``  the factor steps of today;
- ``saml``, ``oidc``, ``eam``, ``wsfed``  each protocol's begin/finish over the one engine;
- ``logout``   the one logout plan over every participant of a session.
"""
