"""The Hideez Key's BLE protocol (ours), sans-IO: GATT layout, framing, session, commands.

``docs/key-protocol.md`` is the specification; :mod:`.host` runs on the server (the master key
never leaves it) and :mod:`.key` inside the (virtual) key. Neither does any I/O.
"""
