"""The load and fault harness: a cluster of ``hideez-idp serve`` instances on a private Redis
and PostgreSQL (``cluster``), a round-robin reverse proxy (``proxy``), complete sign-ins driven
by an asyncio load generator (``signins``, ``generator``), fault scenarios (``scenarios``) and
the entry that prints the figures (``run``)."""
