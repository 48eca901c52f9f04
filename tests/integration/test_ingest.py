"""Ingest against a real broker, on both databases: the conservation law, late events,
reprocessing the quarantine, and what the dead-letter topics receive."""

import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.kafka.consumer import SupplierTopicReader
from governance.reference import ReferenceFile, ReferenceSets, load_reference
from orchestration.run import run_ingest
from pipelines.ingest import Ingestor
from pipelines.quarantine import list_quarantine, reprocess
from pipelines.validation.runner import Validator
from pipelines.views.catalog import reading
from pipelines.views.keys import view_touched
from sangsaeng.db import make_engine
from schemas.serde import AvroDeserializer
from schemas.topics import EventType, dlq_topic
from tests.integration.ingest_state import read_state
from tests.integration.ingest_world import INVALID, POISON, IngestWorld
from tests.support import read_topic
from tests.views_support import assert_full_equals_incremental

pytestmark = pytest.mark.integration


def end_offsets(world: IngestWorld) -> dict[tuple[str, int], int]:
    reader = SupplierTopicReader(world.bootstrap, topics=world.setting_values("")["ingest_topics"])
    try:
        return {(p.topic, p.partition): p.end_offset for p in reader.lag({})}
    finally:
        reader.close()


def dead_letters(world: IngestWorld) -> Counter[tuple[str, int, int]]:
    """Source coordinates of every dead letter this world's records caused."""
    found: Counter[tuple[str, int, int]] = Counter()
    for event_type in EventType:
        for record in read_topic(world.bootstrap, dlq_topic(event_type)):
            headers = {k: v.decode() for k, v in record.headers}
            if headers["sangsaeng.source.topic"].startswith(f"sup.{world.prefix}"):
                found[
                    (
                        headers["sangsaeng.source.topic"],
                        int(headers["sangsaeng.source.partition"]),
                        int(headers["sangsaeng.source.offset"]),
                    )
                ] += 1
                assert json.loads(headers["sangsaeng.reasons"]), "reasons travel in the headers"
    return found


def test_every_record_is_landed_or_quarantined_exactly_once(
    world: IngestWorld, db_url: str
) -> None:
    world.load_reference(db_url)
    world.produce_mix(600, duplicates=25, invalid_each=2)
    expected = world.expected
    assert expected["land"] == 600 and expected["duplicate"] == 25

    # Small batches, so duplicates meet their originals both within and across batches.
    report = run_ingest(world.settings(db_url), until_caught_up=True, max_records=170)
    state = read_state(db_url)

    assert report.runs > 3 and report.lag_left == 0
    # N landed: exactly the valid events, each once.
    assert state.landed_ids == {s.event_id for s in world.sent if s.expect == "land"}
    assert state.landed_rows == 600
    # D duplicates recorded as duplicates, at the coordinates of the resends.
    assert {(t, p, o) for t, p, o, _ in state.duplicates} == {
        s.where for s in world.sent if s.expect == "duplicate"
    }
    # M invalid + P poison quarantined, each for the rule it broke.
    bad = [s for s in world.sent if s.expect not in ("land", "duplicate")]
    assert len(bad) == 2 * len(INVALID) + len(POISON)
    assert set(state.quarantined) == {s.where for s in bad}
    for s in bad:
        assert s.expect in state.quarantined[s.where], (s.expect, state.quarantined[s.where])
    # The report adds up, and every partition's offset is at its end.
    assert report.read == len(world.sent)
    assert sum(report.landed.values()) == 600
    assert sum(report.duplicates.values()) == 25
    assert sum(report.quarantined.values()) == len(bad)
    assert state.offsets == {tp: end for tp, end in end_offsets(world).items() if end > 0}
    # Each refused record was also sent to its dead-letter topic (once: nothing crashed).
    assert dead_letters(world) == Counter({s.where: 1 for s in bad})

    # A second run reads nothing and changes nothing.
    again = run_ingest(world.settings(db_url), until_caught_up=True)
    assert again.read == 0
    assert read_state(db_url) == state


def test_late_and_out_of_order_events_land(world: IngestWorld, db_url: str) -> None:
    world.load_reference(db_url)
    events = world.events(120)
    # Newest first, and a third of them three days late.
    for i, (event_type, supplier_id, record) in enumerate(reversed(events)):
        late = timedelta(days=3 if i % 3 == 0 else 0)
        world.send(
            event_type, supplier_id, dict(record, event_time=record["event_time"] - late), "land"
        )
    world.flush()

    run_ingest(world.settings(db_url), until_caught_up=True)

    assert read_state(db_url).landed_ids == {str(r["event_id"]) for _, _, r in events}


def test_a_reprocessed_event_lands_once(world: IngestWorld, db_url: str) -> None:
    world.load_reference(db_url)
    events = world.events(40)
    event_type, supplier_id, record = next(e for e in events if "part_number" in e[2])
    record = dict(record, part_number="NEW-PART-7")  # not in the reference data yet
    world.send(event_type, supplier_id, record, "known_part")
    world.flush()
    settings = world.settings(db_url)
    run_ingest(settings, until_caught_up=True)
    engine = make_engine(db_url)
    [entry] = list_quarantine(engine, supplier_id=supplier_id)
    assert entry.event_id == str(record["event_id"])
    assert [r["rule"] for r in entry.reasons] == ["known_part"]
    assert entry.reasons[0]["value"] == f"{supplier_id}/NEW-PART-7"

    def retry() -> object:
        from schemas.registry.client import RegistryClient

        ingestor = Ingestor(
            engine,
            AvroDeserializer.for_contracts(RegistryClient(world.registry_url, world.registry_auth)),
            Validator(ReferenceSets.read(engine)),
        )
        return reprocess(engine, ingestor, supplier_id=supplier_id)

    still = retry()  # the reference data is not fixed yet
    assert (still.retried, still.landed, still.still_refused) == (1, 0, 1)
    load_reference(
        engine,
        ReferenceFile.model_validate(
            {"parts": [{"supplier_id": supplier_id, "part_number": "NEW-PART-7"}]}
        ),
    )
    fixed = retry()
    assert (fixed.retried, fixed.landed, fixed.still_refused) == (1, 1, 0)
    # The views of the day it landed on are stale, and data_readiness (it left the
    # quarantine); a refresh then equals a full rebuild.
    with engine.connect() as conn:
        touched = conn.execute(
            select(view_touched.c.view).where(view_touched.c.supplier_id == supplier_id)
        )
        stale = set(touched.scalars())
    assert {v.name for v in reading(EventType(event_type))} | {"data_readiness"} <= stale
    assert_full_equals_incremental(engine, settings)
    assert retry().retried == 0  # nothing open any more
    run_ingest(settings, until_caught_up=True)  # and ingest does not bring it back

    state = read_state(db_url)
    assert state.landed_ids == {str(record["event_id"])}
    assert state.landed_rows == 1
    assert list_quarantine(engine, status="open") == []
    [resolved] = list_quarantine(engine, status="landed")
    assert resolved.attempts == 3
    engine.dispose()


def test_cli_reference_ingest_and_quarantine(world: IngestWorld, db_url: str, tmp_path) -> None:
    import subprocess

    import yaml

    from tests.support import cli_env

    env = cli_env(**world.setting_values(db_url), state_dir=str(tmp_path / "state"))

    def sangsaeng(*args: str) -> str:
        done = subprocess.run(
            [".venv/bin/sangsaeng", *args], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    world.produce_mix(100)
    refused = subprocess.run(
        [".venv/bin/sangsaeng", "ingest"], env=env, capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1
    assert "no reference data" in refused.stderr and "sangsaeng reference load" in refused.stderr
    assert "Traceback" not in refused.stderr

    reference = tmp_path / "reference.yaml"
    reference.write_text(yaml.safe_dump(world.world.reference()))
    assert "3 sites" in sangsaeng("reference", "load", str(reference))
    out = sangsaeng("ingest", "--until-caught-up")
    bad = sum(1 for s in world.sent if s.expect not in ("land", "duplicate"))
    assert f"read {len(world.sent)} records" in out
    assert "known_part" in out and "not_confluent_framing" in out  # quarantined by reason
    assert "lag left 0" in out

    spoofed = next(s for s in world.sent if s.expect == "supplier_id_matches_topic")
    supplier = spoofed.topic.split(".")[1]
    listed = sangsaeng("quarantine", "list", "--supplier", supplier, "--limit", "100")
    assert spoofed.event_id in listed
    assert "supplier_id_matches_topic: supplier_id=" in listed
    everyone = sangsaeng("quarantine", "list", "--limit", "100")
    assert f"{bad} shown" in everyone
    assert "retried" in sangsaeng("quarantine", "reprocess")
