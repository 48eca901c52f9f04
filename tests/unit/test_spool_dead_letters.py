"""The spool's dead letters: an event refused for good moves aside in one transaction,
keeps what it was accepted with, and goes back to the tail or away only when told;
which Kafka errors refuse a record; `sangsaeng spool` over the spools of a state dir."""

import json
import subprocess
import sys

import pytest
from kafka import errors as kafka_errors

from connectors.sdk.client import is_refusal, kafka_reason
from connectors.sdk.spool import (
    Spool,
    dead_letters_in,
    open_spool,
    spool_paths,
    spool_statuses,
)
from sangsaeng.errors import TerminalError
from tests.support import cli_env

pytestmark = pytest.mark.unit

REASON = "MessageSizeTooLargeError: The server has a configurable maximum message size"


def rows(n: int, start: int = 0) -> list[tuple[str, str, bytes, str, bytes]]:
    return [("production", "sup.S1.production", b"k", f"id{i}", b"b" * i) for i in range(start, n)]


def test_a_dead_letter_leaves_the_spool_and_keeps_its_event(tmp_path):
    spool = Spool(tmp_path / "S1.db")
    spool.append(rows(5), limit=100)
    third = spool.oldest(5)[2]
    assert spool.dead_letter(third.seq, REASON)
    assert not spool.dead_letter(third.seq, REASON)  # already moved: nothing happens
    assert spool.count() == 4 and spool.dead_count() == 1
    assert [e.event_id for e in spool.oldest(10)] == ["id0", "id1", "id3", "id4"]
    (dead,) = spool.dead_letters()
    assert (dead.seq, dead.event_id, dead.topic, dead.event_type) == (
        third.seq,
        "id2",
        "sup.S1.production",
        "production",
    )
    assert dead.size == 2 and dead.reason == REASON
    assert dead.refused_at >= dead.accepted_at
    spool.close()
    reopened = Spool(tmp_path / "S1.db")  # durable, and the schema is created only once
    assert reopened.dead_count() == 1 and reopened.count() == 4
    reopened.close()


def test_retry_puts_dead_letters_back_at_the_tail_in_their_order(tmp_path):
    spool = Spool(tmp_path / "S1.db")
    spool.append(rows(6), limit=100)
    events = spool.oldest(6)
    for event in (events[4], events[1]):
        spool.dead_letter(event.seq, REASON)
    assert spool.retry_dead([events[4].seq, 999_999]) == 1  # unknown seqs are ignored
    assert [e.event_id for e in spool.oldest(10)] == ["id0", "id2", "id3", "id5", "id4"]
    assert spool.retry_dead() == 1
    back = spool.oldest(10)
    assert [e.event_id for e in back] == ["id0", "id2", "id3", "id5", "id4", "id1"]
    assert back[-1].key == b"k" and back[-1].body == b"b"  # the event itself, unchanged
    assert back[-1].seq > events[-1].seq  # a new place: forwarded after what waited
    assert spool.dead_count() == 0
    # Refused again (after a retry), it is a dead letter under its new seq.
    assert spool.dead_letter(back[-1].seq, "again")
    assert [d.seq for d in spool.dead_letters()] == [back[-1].seq]
    spool.close()


def test_retry_ignores_the_spool_limit_and_drop_deletes_only_dead_letters(tmp_path):
    spool = Spool(tmp_path / "S1.db")
    spool.append(rows(3), limit=3)
    first = spool.oldest(1)[0]
    spool.dead_letter(first.seq, REASON)
    spool.append(rows(4, start=3), limit=3)  # the spool is full again
    assert spool.retry_dead() == 1 and spool.count() == 4  # accepted once already
    for event in spool.oldest(2):
        spool.dead_letter(event.seq, REASON)
    assert spool.drop_dead([]) == 0
    assert spool.drop_dead([spool.dead_letters()[0].seq]) == 1
    assert spool.drop_dead() == 1
    assert spool.dead_count() == 0 and spool.count() == 2
    spool.close()


def test_spools_of_a_state_dir_are_found_by_supplier_and_never_created(tmp_path):
    folder = tmp_path / "spool"
    assert spool_paths(folder) == {} and spool_statuses(folder) == []
    for supplier, n in (("S1", 3), ("S2", 1)):
        spool = Spool(folder / f"{supplier}.db")
        spool.append(rows(n), limit=10)
        spool.dead_letter(spool.oldest(1)[0].seq, REASON)
        spool.close()
    (folder / "notes.txt").write_text("not a spool")
    assert list(spool_paths(folder)) == ["S1", "S2"]
    assert [(s.supplier_id, s.pending, s.dead_letters) for s in spool_statuses(folder)] == [
        ("S1", 2, 1),
        ("S2", 0, 1),
    ]
    assert [s for s, _ in dead_letters_in(folder)] == ["S1", "S2"]
    assert [s for s, _ in dead_letters_in(folder, "S2")] == ["S2"]
    with pytest.raises(TerminalError, match=r"no spool for supplier 'S3'.*S1, S2"):
        open_spool(folder, "S3")
    assert not (folder / "S3.db").exists()


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.MessageSizeTooLargeError(),
        kafka_errors.RecordListTooLargeError(),
        kafka_errors.InvalidRecordError("schema id unknown"),
        kafka_errors.CorruptRecordError(),
        kafka_errors.InvalidTopicError(),
        kafka_errors.TopicAuthorizationFailedError("sup.S1.production"),
        kafka_errors.InvalidTimestampError(),
        kafka_errors.PolicyViolationError(),
    ],
)
def test_errors_that_refuse_a_record_for_good(error):
    assert is_refusal(error)


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.KafkaTimeoutError(),
        kafka_errors.KafkaConnectionError(),
        kafka_errors.NotLeaderForPartitionError(),
        kafka_errors.UnknownTopicOrPartitionError(),  # retriable: onboarding may follow
        kafka_errors.ClusterAuthorizationFailedError(),  # this producer, not the record
        kafka_errors.OutOfOrderSequenceNumberError(),
        kafka_errors.IllegalStateError("KafkaProducer already closed!"),
        ValueError("not a Kafka error"),
    ],
)
def test_errors_that_do_not_refuse_the_record(error):
    assert not is_refusal(error)


def test_the_reason_names_the_error_and_what_it_means():
    assert kafka_reason(kafka_errors.MessageSizeTooLargeError(None)).startswith(
        "MessageSizeTooLargeError: The server has a configurable maximum message size"
    )
    assert kafka_reason(kafka_errors.MessageSizeTooLargeError("The message is 9 bytes")) == (
        "MessageSizeTooLargeError: The message is 9 bytes"
    )


def spool_cli(state_dir, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "spool", *args],
        env=cli_env(state_dir=str(state_dir)),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_spool_cli_lists_retries_and_drops_dead_letters(tmp_path):
    folder = tmp_path / "spool"
    for supplier in ("S1", "S2"):
        spool = Spool(folder / f"{supplier}.db")
        spool.append(rows(4), limit=10)
        for event in spool.oldest(2):
            spool.dead_letter(event.seq, REASON)
        spool.close()

    listed = spool_cli(tmp_path, "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [(e["supplier"], e["event id"]) for e in entries] == [
        ("S1", "id0"),
        ("S1", "id1"),
        ("S2", "id0"),
        ("S2", "id1"),
    ]
    assert entries[0]["reason"] == REASON and entries[0]["topic"] == "sup.S1.production"
    assert set(entries[0]) == {
        "seq",
        "supplier",
        "type",
        "event id",
        "topic",
        "bytes",
        "refused at",
        "reason",
    }
    table = spool_cli(tmp_path, "list", "--supplier", "S1")
    assert "MessageSizeTooLargeError" in table.stdout
    assert "S1: 2 pending, 2 dead letters" in table.stdout and "S2:" not in table.stdout
    csv_lines = spool_cli(tmp_path, "status", "--format", "csv").stdout.splitlines()
    assert csv_lines[0] == "supplier,pending,dead letters,file"
    assert csv_lines[1].startswith("S1,2,2,")

    retried = spool_cli(tmp_path, "retry", "--supplier", "S1", "--seq", str(entries[0]["seq"]))
    assert retried.returncode == 0, retried.stderr
    assert "moved 1 dead letter of S1 back to its spool (3 pending)" in retried.stdout

    refused = spool_cli(tmp_path, "drop", "--supplier", "S2", stdin="n\n")
    assert refused.returncode == 1  # asked, and the answer was no: nothing dropped
    assert len(json.loads(spool_cli(tmp_path, "list", "--format", "json").stdout)) == 3
    dropped = spool_cli(tmp_path, "drop", "--supplier", "S2", "--yes")
    assert "dropped 2 dead letters of S2" in dropped.stdout
    assert [
        e["supplier"] for e in json.loads(spool_cli(tmp_path, "list", "--format", "json").stdout)
    ] == ["S1"]

    unknown = spool_cli(tmp_path, "drop", "--supplier", "S9", "--yes")
    assert unknown.returncode == 1 and "no spool for supplier 'S9'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
