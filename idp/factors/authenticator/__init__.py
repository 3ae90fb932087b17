"""The authenticator-app factor: device enrolment by QR, device-signed requests, push
challenges with number matching, and TOTP.

``wire`` is the documented wire model (docs/authenticator-protocol.md) that the reference
authenticator (top-level ``authenticator`` package) and any mobile app share with the server;
it imports nothing but the standard library. Everything else here is the server's.
"""
