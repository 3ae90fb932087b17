"""``/api/v1/workstations`` and ``/api/v1/alarm``: workstations and the emergency alarm."""

from __future__ import annotations

from flask_idp.api import operation, services
from idp.admin.access import Actor
from idp.admin.models import Page
from idp.admin.workstation_service import (
    AlarmOut,
    SettingsUpdate,
    StatusAction,
    WorkstationOut,
    WorkstationQuery,
)
from idp.admin.workstation_service import WorkstationService as W

TAG = "workstations"
ONE = "/workstations/{workstation_id}"


@operation(
    "GET",
    "/workstations",
    summary="List workstations (by name; filter, cursor paging)",
    tag=TAG,
    needs=W.page,
    query=WorkstationQuery,
    response=Page[WorkstationOut],
)
def list_workstations(actor: Actor, *, query: WorkstationQuery) -> Page[WorkstationOut]:
    return services().workstations.page(actor, query)


@operation(
    "GET",
    ONE,
    summary="Show a workstation",
    tag=TAG,
    needs=W.get,
    response=WorkstationOut,
    etag=True,
)
def get_workstation(actor: Actor, *, workstation_id: str) -> WorkstationOut:
    return services().workstations.get(actor, workstation_id)


def _status(action: StatusAction, summary: str) -> None:
    def handler(actor: Actor, *, workstation_id: str) -> WorkstationOut:
        return services().workstations.set_status(actor, workstation_id, action)

    handler.__name__ = f"{action.value}_workstation"
    operation(
        "POST",
        f"{ONE}/{action.value}",
        summary=summary,
        tag=TAG,
        needs=W.set_status,
        response=WorkstationOut,
        etag=True,
    )(handler)


_status(StatusAction.APPROVE, "Approve a workstation (it gets proximity settings)")
_status(StatusAction.UNAPPROVE, "Refuse a workstation (it may be approved again)")
_status(StatusAction.REMOVE, "Remove a workstation for good")


@operation(
    "POST",
    f"{ONE}/lock",
    summary="Lock an approved workstation now",
    tag=TAG,
    needs=W.lock,
    response=WorkstationOut,
)
def lock_workstation(actor: Actor, *, workstation_id: str) -> WorkstationOut:
    return services().workstations.lock(actor, workstation_id)


@operation(
    "PUT",
    f"{ONE}/settings",
    summary="Change an approved workstation's proximity settings (If-Match)",
    tag=TAG,
    needs=W.update_settings,
    body=SettingsUpdate,
    response=WorkstationOut,
    if_match=True,
    etag=True,
)
def update_workstation_settings(
    actor: Actor, *, workstation_id: str, body: SettingsUpdate, if_match: str | None
) -> WorkstationOut:
    return services().workstations.update_settings(actor, workstation_id, body, if_match=if_match)


@operation(
    "GET",
    "/alarm",
    summary="The emergency alarm and the workstations",
    tag=TAG,
    needs=W.alarm,
    response=AlarmOut,
)
def get_alarm(actor: Actor) -> AlarmOut:
    return services().workstations.alarm(actor)


@operation(
    "POST",
    "/alarm/on",
    summary="Raise the alarm: every workstation locks",
    tag=TAG,
    needs=W.raise_alarm,
    response=AlarmOut,
)
def raise_alarm(actor: Actor) -> AlarmOut:
    return services().workstations.raise_alarm(actor)


@operation(
    "POST",
    "/alarm/off",
    summary="Lift the alarm (needs a fresh console sign-in: an API key is always refused)",
    tag=TAG,
    needs=W.lift_alarm,
    response=AlarmOut,
)
def lift_alarm(actor: Actor) -> AlarmOut:
    return services().workstations.lift_alarm(actor)
