"""A small SAML service provider for the demo, built on OneLogin python3-saml (not on idp)."""
