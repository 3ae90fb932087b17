"""Workstations: the device gateway's identity, its link to the server, events, sessions,
summaries and the emergency alarm (sans-IO; the link's sockets live in the adapters)."""
