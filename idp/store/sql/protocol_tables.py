"""Every table on the shared ``Base``, for the tools that need the whole schema at once
(Alembic autogenerate and the model/migration comparison test).

Protocol packages define their own tables next to their code (``idp.oidc.store``); the store
package itself never imports them, so the dependency stays one way at run time.
"""

import idp.admin.credential_store
import idp.directory.sync.store
import idp.factors.authenticator.store
import idp.oidc.store
import idp.vault.tables
import idp.workstations.offline_revocations
import idp.workstations.pc_logon
import idp.workstations.proximity_tables
import idp.workstations.tables  # noqa: F401
