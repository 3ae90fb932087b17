"""Events on disk until the server acknowledges them: one file per event, written atomically.

A file is named by a sequence number and the event id, so events are resent in the order they
happened; the file is removed only when the server's ``ack`` names the id. A crash between the
server storing a batch and the ack arriving resends the batch, which the server de-duplicates.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from idp.workstations.events import WorkstationEvent, parse_batch


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._files: dict[str, Path] = {}
        self._seq = 0
        for path in sorted(directory.glob("*.json")):
            seq, _, event_id = path.stem.partition("-")
            self._files[event_id] = path
            self._seq = max(self._seq, int(seq))

    def __len__(self) -> int:
        return len(self._files)

    def add(self, event: WorkstationEvent) -> None:
        self._seq += 1
        path = self.directory / f"{self._seq:012d}-{event.id}.json"
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(event.to_wire(), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
        self._files[event.id] = path

    def pending(self, limit: int) -> list[WorkstationEvent]:
        """The oldest ``limit`` events not yet acknowledged."""
        paths = sorted(self._files.values())[:limit]
        raw = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
        return list(parse_batch({"events": raw})) if raw else []

    def ack(self, ids: list[str]) -> int:
        removed = 0
        for event_id in ids:
            path = self._files.pop(event_id, None)
            if path is not None:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
