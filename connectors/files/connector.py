"""Picks up MES exports from a folder, sends their rows through the SDK, files them away.

Each file is read in chunks; a chunk's valid events and the file's cursor (its content
hash and the last row handled) are committed to the SDK spool in one transaction. A
crash anywhere therefore resumes after the last committed chunk: no row lost, none
sent twice, and a file dropped again is recognised by its hash. A file ends in
`done/` (with `<name>.report.txt` when rows were refused) or, if no row could be
used, in `failed/` with its report. Rows go through the SDK's `prepare`, so a row the
platform cannot carry (NaN, a NUL, a timestamp in year 10000, ...) is refused in the
report with its field, like any other invalid row; a JSON line nested deeper than any
event is refused before it is parsed.
"""

import csv
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.files.mapping import Mapping, RowError, apply
from connectors.sdk import SupplierClient
from connectors.sdk.coerce import max_event_depth
from connectors.sdk.limits import NotEventJSON, parse_json
from sangsaeng.errors import TransientError

CHUNK = 500
PATTERNS = ("*.csv", "*.jsonl")
SETTLE_S = 2.0  # a file changed more recently than this may still be being written


@dataclass
class FileOutcome:
    """What happened to one file."""

    name: str
    rows: int = 0
    accepted: int = 0
    resumed_from: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (row, field, reason)
    moved_to: Path | None = None
    note: str = ""


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_rows(path: Path, mapping: Mapping) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(row number, row or None, why not) for each data row; numbers count from 1."""
    with path.open(encoding=mapping.encoding, newline="") as handle:
        if path.suffix == ".jsonl":
            number = 0
            for line in handle:
                if not line.strip():
                    continue
                number += 1
                try:
                    row = parse_json(line, max_event_depth())
                except NotEventJSON as exc:
                    yield number, None, str(exc)
                    continue
                if isinstance(row, dict):
                    yield number, row, ""
                else:
                    yield number, None, "a line must be a JSON object"
            return
        for number, row in enumerate(csv.DictReader(handle, delimiter=mapping.delimiter), 1):
            if None in row:
                yield number, None, "more cells than the header has columns"
            else:
                yield number, row, ""


def process_file(client: SupplierClient, mapping: Mapping, path: Path) -> FileOutcome:
    """Send one export's rows (resuming where an earlier run stopped); move it away."""
    outcome = FileOutcome(path.name)
    cursor_name = f"file:{file_digest(path)}"
    done_upto = client.spool.cursor(cursor_name) or 0
    outcome.resumed_from = done_upto
    chunk: list[tuple[int, dict[str, Any]]] = []
    last = done_upto
    since_commit = 0

    def commit() -> None:
        nonlocal since_commit
        ids, rejected = client.send_batch(
            mapping.event_type, [event for _, event in chunk], cursor=(cursor_name, last)
        )
        outcome.accepted += len(ids)
        outcome.refused.extend((chunk[i][0], exc.field or "", exc.reason) for i, exc in rejected)
        chunk.clear()
        since_commit = 0

    try:
        for number, row, problem in read_rows(path, mapping):
            outcome.rows = number
            if number <= done_upto:
                continue
            last = number
            if row is None:
                outcome.refused.append((number, "", problem))
            else:
                try:
                    chunk.append((number, apply(mapping, row)))
                except RowError as exc:
                    outcome.refused.append((number, exc.field, str(exc)))
            since_commit += 1
            if since_commit >= CHUNK:
                commit()
        commit()
    except (UnicodeDecodeError, csv.Error) as exc:
        commit()  # what was read before the error is kept; the report says where it stopped
        outcome.note = f"unreadable after row {last} ({type(exc).__name__}: {exc})"
    outcome.refused.sort()
    if done_upto and outcome.rows == done_upto and not outcome.note:
        outcome.note = "already processed (same content seen before)"
    unreadable = outcome.note.startswith("unreadable")
    nothing_used = outcome.accepted == 0 and done_upto == 0
    outcome.moved_to = _file_away(path, outcome, "failed" if unreadable or nothing_used else "done")
    return outcome


def _file_away(path: Path, outcome: FileOutcome, where: str) -> Path:
    target_dir = path.parent / where
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    if target.exists():  # the same name again: keep both
        target = target_dir / f"{path.stem}.{time.strftime('%Y%m%dT%H%M%S')}{path.suffix}"
    if outcome.refused or outcome.note or where == "failed":
        lines = [
            f"{path.name}: {outcome.rows} rows, {outcome.accepted} accepted in this run, "
            f"{len(outcome.refused)} refused" + (f"; {outcome.note}" if outcome.note else ""),
        ]
        if outcome.resumed_from:
            lines.append(f"rows 1-{outcome.resumed_from} were handled by an earlier run")
        lines += [f"row {n}: {f or '-'}: {reason}" for n, f, reason in outcome.refused]
        target.with_name(target.name + ".report.txt").write_text("\n".join(lines) + "\n")
    path.rename(target)
    return target


def pending_files(folder: Path, *, settle_s: float = SETTLE_S) -> list[Path]:
    """Exports waiting in `folder`, oldest first, leaving out ones still being written."""
    now = time.time()
    files = [p for pattern in PATTERNS for p in folder.glob(pattern) if p.is_file()]
    return sorted(
        (p for p in files if now - p.stat().st_mtime >= settle_s),
        key=lambda p: (p.stat().st_mtime, p.name),
    )


def watch(
    folder: Path,
    client: SupplierClient,
    mapping: Mapping,
    *,
    once: bool = False,
    poll_s: float = 2.0,
    on_file: Callable[[FileOutcome], None] = lambda _: None,
    on_warning: Callable[[str], None] = lambda _: None,
) -> None:
    """Process exports as they arrive (`once`: those there now), forwarding after each."""
    while True:
        for path in pending_files(folder, settle_s=0.0 if once else SETTLE_S):
            on_file(process_file(client, mapping, path))
            try:
                client.flush()
            except TransientError as exc:
                on_warning(str(exc))
        if once:
            return
        time.sleep(poll_s)
