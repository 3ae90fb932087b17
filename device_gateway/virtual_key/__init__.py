"""The virtual Hideez Key: the key side of the protocol served as a bumble GATT server."""
