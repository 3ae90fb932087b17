"""``DirectoryAttributes``: attributes from the directory store, added by subject.

A SATOSA response micro-service. The upstream subject is matched to an employee exactly as the
MFA micro-service does (:func:`idp.directory.matching.match_employee`); each configured internal
attribute is filled from one source of the core's attribute vocabulary (:mod:`idp.subject`:
``groups``, ``employee_id``, ``upn``, ``external_id:ad_object_guid``, ``member_of:Admins`` …),
replacing what the upstream sent under that name. A subject that matches no employee passes
unchanged only when ``pass_unknown`` says so; otherwise it gets an error page.
"""

from __future__ import annotations

import functools
from typing import Any

from satosa.context import Context
from satosa.internal import InternalData
from satosa.micro_services.base import ResponseMicroService
from satosa.response import Response

from idp.directory.matching import NoEmployeeMatched, match_employee
from idp.runtime import shared_runtime
from idp.sessions import AuthContext
from idp.subject import subject_from_employee, values_of
from satosa_plugins.config import parse_attributes
from satosa_plugins.shell import shell_for


class DirectoryAttributes(ResponseMicroService):  # type: ignore[misc]
    def __init__(self, config: Any, internal_attributes: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = parse_attributes(config, plugin=self.name)
        self.rt = shared_runtime(self.settings.idp_config)
        self.shell = shell_for(self.rt)

    def process(self, context: Context, data: InternalData) -> Response:
        return self.shell.endpoint(functools.partial(self._add, data=data))(context)

    def _add(self, context: Context, *, data: InternalData) -> Response:
        match = self.settings.match
        try:
            employee = match_employee(
                employees=self.rt.employees,
                by=match.by,
                values=match.values(subject_id=data.subject_id, attributes=data.attributes),
                scope=match.scope,
            )
        except NoEmployeeMatched:
            if self.settings.pass_unknown:
                return self.next(context, data)
            raise
        subject = subject_from_employee(employee)
        # The vocabulary's ``amr`` reads a sign-in; this service adds directory data only
        # (the config refuses ``amr``), so an empty one stands in.
        context_now = AuthContext("", employee.id, self.rt.now(), ())
        for name, source in self.settings.attributes.items():
            data.attributes[name] = list(values_of(source, subject=subject, context=context_now))
        return self.next(context, data)
