"""Walk up and it unlocks: the key radio feeds the proximity monitor, the server reads the
key's primary account for the unlock.

:class:`KeyUnlock` is the glue between :class:`~device_gateway.key_agent.KeyAgent` (the keys
the gateway hears and holds connections to) and
:class:`~device_gateway.proximity_monitor.ProximityMonitor`:

- every advertisement heard from a key the server accepted (``KeyAgent.accepted``: an
  Active key whose conversation ended without refusal) is an ``Observation`` for the
  monitor; readings of keys the server has not accepted are dropped — a radio that merely
  advertises someone's serial moves nothing;
- the connection of each key (connected, lost) reaches the monitor through the gateway's
  journal callback (``Gateway._key_event``): a lost connection of the session's key locks;
- it is the monitor's :class:`~device_gateway.proximity_monitor.CredentialSource`: an unlock
  asks the server (``KeyAgent.unlock``), which opens a session with the master key, reads the
  primary account (PIN and button where the access profile says) and answers with the
  password sealed to this workstation's key; it is opened here and handed to the actuator.

:func:`key_gateway` builds a gateway with all of it switched on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import replace

from device_gateway.actuator import Actuator, LogonCredential
from device_gateway.agent import Gateway, GatewayOptions, utcnow
from device_gateway.identity import Identity
from device_gateway.key_agent import UNLOCK_TIMEOUT, KeyAgent
from device_gateway.keys import KeyHeard, Observation
from device_gateway.proximity_monitor import Observation as Reading
from device_gateway.proximity_monitor import ProximityMonitor
from device_gateway.spool import Spool
from idp.errors import IdpError
from idp.workstations import sealed

log = logging.getLogger(__name__)


class KeyUnlock:
    def __init__(
        self, *, agent: KeyAgent, identity: Identity, timeout: float = UNLOCK_TIMEOUT
    ) -> None:
        self.agent = agent
        self.identity = identity
        self.timeout = timeout
        self.monitor: ProximityMonitor | None = None
        agent.radio.listeners.append(self._heard)

    def attach(self, monitor: ProximityMonitor) -> None:
        """Feed ``monitor`` from now on."""
        self.monitor = monitor

    def _heard(self, observation: Observation) -> None:
        monitor = self.monitor
        if (
            monitor is not None
            and isinstance(observation, KeyHeard)
            and observation.serial in self.agent.accepted
        ):
            monitor.feed(Reading(observation.serial, observation.rssi, observation.at))

    async def primary_credential(self, serial: str) -> LogonCredential | None:
        body = await self.agent.unlock(serial, self.timeout)
        if body is None:
            return None
        if body.get("refused") is not False:
            log.info("no unlock with key %s: %s", serial, body.get("error_description"))
            return None
        try:
            password = sealed.open_text(
                body.get("sealed"),
                key=self.identity.key,
                purpose=sealed.KEY_PASSWORD_PURPOSE,
                workstation_id=self.identity.workstation_id,
            )
        except IdpError as exc:
            log.error("key %s: the server's credential does not open here: %s", serial, exc)
            return None
        account, employee = body.get("account"), body.get("employee")
        if not isinstance(account, str) or not account:
            log.error("key %s: the server's credential names no account", serial)
            return None
        named = employee if isinstance(employee, str) and employee else None
        return LogonCredential(account, "password", password, employee=named)


def key_gateway(
    *,
    identity: Identity,
    spool: Spool,
    actuator: Actuator,
    options: GatewayOptions,
    agent: KeyAgent,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Gateway:
    """A gateway whose keys unlock and lock it by proximity (the monitor switched on)."""
    unlock = KeyUnlock(agent=agent, identity=identity)
    gateway = Gateway(
        identity=identity,
        spool=spool,
        actuator=actuator,
        options=replace(options, proximity=True),
        clock=clock,
        credentials=unlock,
        keys=agent,
    )
    assert gateway.proximity is not None
    unlock.attach(gateway.proximity)
    return gateway
