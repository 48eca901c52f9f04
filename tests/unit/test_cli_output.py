"""`emit`: a table keeps every id column whole on a narrow terminal; short ones still fit."""

import io
import uuid

import pytest
from rich.console import Console

from cli import output
from cli.output import Format, emit

pytestmark = pytest.mark.unit

COLUMNS = ["id", "supplier", "event id", "topic", "reasons"]


def printed(monkeypatch: pytest.MonkeyPatch, rows: list[dict], width: int) -> list[str]:
    out = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=out, width=width))
    emit(rows, COLUMNS, Format.TABLE, ids=["id", "supplier", "event id", "topic"])
    return out.getvalue().splitlines()


def row(supplier: str) -> dict:
    return {
        "id": "1",
        "supplier": supplier,
        "event id": str(uuid.uuid4()),
        "topic": f"sup.{supplier}.machine_status",
        "reasons": ["line L99 is not a known line of site S1-P1"],
    }


def test_ids_wider_than_the_terminal_are_printed_whole(monkeypatch):
    rows = [row("S" * 64), row("SUPPLIER-0001")]
    lines = printed(monkeypatch, rows, width=80)
    for r in rows:
        for column in ("supplier", "event id", "topic"):
            assert any(r[column] in line for line in lines), f"{r[column]} cut"


def test_a_table_that_fits_stays_within_the_terminal(monkeypatch):
    lines = printed(monkeypatch, [{"id": "1", "supplier": "S1", "reasons": ["x"]}], width=80)
    assert lines and max(len(line) for line in lines) <= 80
