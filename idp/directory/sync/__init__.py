"""Directory sync: employees imported and kept current from Active Directory (LDAP) and Entra ID
(Microsoft Graph).

A *source* (:mod:`.ldap_source`, :mod:`.entra_source`) reads the directory page by page and
yields :class:`~.records.DirectoryUser` records; the *engine* (:mod:`.engine`) plans what each
record changes, applies one page in one transaction (:mod:`.store`), moves the source's
high-water mark only after a complete pass, and hands every disable, departure and password
change on as an :class:`~.records.Outcome` (sessions and refresh tokens end through the core
logout plan; the Hideez Key side takes them as vault tasks once the vault exists).
"""
