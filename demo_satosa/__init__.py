"""The SATOSA demo (``make run-satosa``): SATOSA with the plugin pack, the Flask IdP beside
it, a pysaml2 upstream IdP and the python3-saml demo SP, on localhost."""
