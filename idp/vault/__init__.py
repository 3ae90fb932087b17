"""The Hideez Key vault: lifecycle, accounts on the key and the key's own protocol."""
