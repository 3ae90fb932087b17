"""``hideez-idp proximity set|show|reset`` and ``rfid assign|list|remove``: parsers and
handlers over :class:`idp.admin.proximity.ProximityAdmin`, registered by :mod:`flask_idp.cli`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from flask_idp.cli_workstations import OPERATOR, single_process_note
from idp.admin.proximity import ProximityAdmin
from idp.config.loader import load_config
from idp.runtime import Runtime, build_runtime
from idp.workstations.model import ProximitySettings
from idp.workstations.proximity import key_serial
from idp.workstations.proximity_store import ProximityRepository
from idp.workstations.registry import WorkstationRepository

COMMANDS = frozenset({"proximity", "rfid"})
_SETTINGS = ("lock_proximity", "unlock_proximity", "lock_timeout")


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Callable[..., argparse.ArgumentParser],
) -> None:
    def group(name: str, text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return command(sub, name, text).add_subparsers(
            dest="action", required=True, metavar="ACTION"
        )

    proximity = group("proximity", "proximity settings of one key at one workstation")
    set_ = command(proximity, "set", "give a key its own settings at an approved workstation")
    set_.add_argument("workstation_id")
    set_.add_argument("serial", help="the key's serial number")
    for name in _SETTINGS:
        set_.add_argument(
            "--" + name.replace("_", "-"), type=int, help="default: the key's current value"
        )
    show = command(proximity, "show", "a workstation's settings, per key, and the calibration")
    show.add_argument("workstation_id")
    reset = command(proximity, "reset", "the key follows the workstation's settings again")
    reset.add_argument("workstation_id")
    reset.add_argument("serial")

    rfid = group("rfid", "RFID tags mapped to keys (a tag read unlocks as its key)")
    assign = command(rfid, "assign", "map a tag UID (hex, 4-10 bytes) to a key")
    assign.add_argument("tag")
    assign.add_argument("serial")
    command(rfid, "list", "every tag and its key")
    remove = command(rfid, "remove", "forget a tag")
    remove.add_argument("tag")


def run(args: argparse.Namespace, config_path: Path) -> int:
    runtime = build_runtime(load_config(config_path))
    try:
        settings = runtime.config.workstations.proximity
        registry = WorkstationRepository(runtime.db, defaults=settings.settings)
        actions = ProximityAdmin(
            registry=registry,
            proximity=ProximityRepository(runtime.db),
            audit=runtime.audit,
            store=runtime.ephemeral,
            calibration=settings.calibration,
        )
        if args.action in ("set", "reset", "assign", "remove"):
            single_process_note(runtime)
        if args.command == "proximity":
            return _proximity(runtime, actions, args)
        return _rfid(runtime, actions, args)
    finally:
        runtime.close()


def _proximity(runtime: Runtime, actions: ProximityAdmin, args: argparse.Namespace) -> int:
    now = runtime.now()
    if args.action == "set":
        current = actions.proximity.policy_for(
            actions.registry.require(args.workstation_id), actions.calibration
        ).for_key(key_serial(args.serial))
        given = {n: getattr(args, n) for n in _SETTINGS if getattr(args, n) is not None}
        settings = ProximitySettings(**{**current.to_wire(), **given})
        saved = actions.set_key_settings(
            actor=OPERATOR,
            workstation_id=args.workstation_id,
            serial=args.serial,
            settings=settings,
            now=now,
        )
        print(f"{saved.key_serial} at {saved.workstation_id}: {_describe(saved.settings)}")
    elif args.action == "reset":
        workstation = actions.reset_key_settings(
            actor=OPERATOR, workstation_id=args.workstation_id, serial=args.serial, now=now
        )
        print(
            f"{args.serial} at {workstation.id} follows the workstation again: "
            f"{_describe(workstation.settings)}"
        )
    else:
        workstation = actions.registry.require(args.workstation_id)
        c = actions.calibration
        print(f"{workstation.id} ({workstation.info.name}, {workstation.status.value})")
        print(f"workstation: {_describe(workstation.settings)}")
        print(
            f"calibration: {c.rssi_far} dBm = 0, {c.rssi_near} dBm = 100, median of "
            f"{c.samples}, tap-and-go above {c.tap_rssi} dBm"
        )
        keys = actions.proximity.keys(workstation.id)
        for key in keys:
            print(f"key {key.key_serial}: {_describe(key.settings)} (by {key.updated_by})")
        print(f"{len(keys)} keys with their own settings")
    return 0


def _describe(settings: ProximitySettings) -> str:
    return (
        f"lock below {settings.lock_proximity}, unlock at {settings.unlock_proximity}, "
        f"after {settings.lock_timeout} s"
    )


def _rfid(runtime: Runtime, actions: ProximityAdmin, args: argparse.Namespace) -> int:
    now = runtime.now()
    if args.action == "assign":
        tag = actions.assign_tag(actor=OPERATOR, tag=args.tag, serial=args.serial, now=now)
        print(f"tag {tag.tag} → key {tag.key_serial}")
    elif args.action == "remove":
        tag = actions.remove_tag(actor=OPERATOR, tag=args.tag, now=now)
        print(f"tag {tag.tag} (key {tag.key_serial}) removed")
    else:
        tags = actions.proximity.tags()
        for tag in tags:
            at = f"{tag.assigned_at:%Y-%m-%d %H:%M}Z"
            print(f"{tag.tag}  {tag.key_serial}  {at}  {tag.assigned_by}")
        print(f"{len(tags)} tags")
    return 0
