"""The device gateway: the agent on each workstation. It holds the workstation's identity
(a P-256 key), keeps the link to the server, reports events and drives the OS lock; the
Bluetooth LE part for Hideez Keys (bleak's own classes, bumble in the simulator) comes with the
Hideez Key issue. It imports ``idp`` only for the client-side models and wire formats."""
