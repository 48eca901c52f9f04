"""The Dagster definitions: they load, the sensor asks for a run only when a partition
lags, and the asset checks carry the Great Expectations outcome."""

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.defs.ingest.assets import CHECK_NAME, landing_key
from orchestration.defs.ingest.definitions import resources
from orchestration.defs.ingest.sensors import ingest_on_lag
from orchestration.run import run_ingest
from schemas.topics import EventType
from tests.integration.ingest_world import IngestWorld

pytestmark = pytest.mark.integration


def test_definitions_load(tmp_path) -> None:
    from sangsaeng.settings import load_settings

    defs = build_definitions(load_settings(database_url=f"sqlite:///{tmp_path / 'd.db'}"))
    job = defs.resolve_job_def("ingest")
    assert job.name == "ingest"
    graph = defs.resolve_asset_graph()
    assert {landing_key(e) for e in EventType} <= set(graph.get_all_asset_keys())
    checks = {(k.asset_key, k.name) for k in graph.asset_check_keys}
    assert {(landing_key(e), CHECK_NAME) for e in EventType} <= checks
    assert defs.resolve_sensor_def("ingest_on_lag").job_name == "ingest"
    # Every resource the assets and the sensor ask for is provided.
    defs.resolve_all_job_defs()


def test_runs_the_sensor_starts_follow_the_settings(tmp_path) -> None:
    """A sensor's run request carries no run config: the job's default must be the
    configured batch bounds and event-time window, as `sangsaeng ingest` uses them."""
    from sangsaeng.settings import load_settings

    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'd.db'}",
        ingest_max_records=123,
        ingest_max_seconds=4.5,
        event_future_seconds=60,
        event_horizon_days=5,
    )
    job = build_definitions(settings).resolve_job_def("ingest")
    assert job.run_config["ops"]["land_supplier_events"]["config"] == {
        "max_records": 123,
        "max_seconds": 4.5,
        "event_future_seconds": 60,
        "event_horizon_days": 5,
    }


def _evaluate_sensor(world: IngestWorld, db_url: str) -> dg.RunRequest | dg.SkipReason:
    settings = world.settings(db_url)
    with dg.build_sensor_context(resources=resources(settings)) as context:
        return ingest_on_lag(context)


def test_sensor_triggers_on_lag_and_stays_quiet_without(world: IngestWorld, db_url: str) -> None:
    world.load_reference(db_url)
    quiet = _evaluate_sensor(world, db_url)
    assert isinstance(quiet, dg.SkipReason)  # the topics exist but are empty

    world.produce_mix(40)
    request = _evaluate_sensor(world, db_url)
    assert isinstance(request, dg.RunRequest)
    assert int(request.tags["sangsaeng/lag"]) == len(world.sent)
    assert _evaluate_sensor(world, db_url).run_key == request.run_key  # no second run meanwhile

    run_ingest(world.settings(db_url), until_caught_up=True)
    assert isinstance(_evaluate_sensor(world, db_url), dg.SkipReason)


def test_asset_checks_carry_the_great_expectations_outcome(world: IngestWorld, db_url: str) -> None:
    world.load_reference(db_url)
    world.produce_mix(200)
    job = build_definitions(world.settings(db_url)).resolve_job_def("ingest")
    result = job.execute_in_process(
        run_config={"ops": {"land_supplier_events": {"config": {"max_records": 10_000}}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    checks = {e.asset_key: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {landing_key(e) for e in EventType}
    production = checks[landing_key(EventType.PRODUCTION)]
    assert not production.passed
    assert production.severity == dg.AssetCheckSeverity.WARN
    failed = production.metadata["failed_expectations"].value
    assert {"quantity_good_not_negative", "known_part", "lot_id_required"} <= set(failed)
    assert failed["known_part"] == 1
    assert production.metadata["checked"].value > production.metadata["failed_rows"].value > 0
    materialized = {
        e.asset_key: e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    landed = sum(m["landed"].value for m in materialized.values())
    assert landed == 200


def test_cli_runs_are_kept_on_the_state_dirs_instance(
    world: IngestWorld, db_url: str, tmp_path
) -> None:
    """What `sangsaeng ingest` and the demo land shows in `sangsaeng ui`: the runs and the
    landing assets' materialisations are on `<state_dir>/dagster`, with telemetry off."""
    import yaml

    from orchestration.instance import persistent_instance

    world.load_reference(db_url)
    world.produce_mix(50)
    settings = world.settings(db_url, state_dir=tmp_path / "state")
    report = run_ingest(settings, until_caught_up=True)
    assert sum(report.landed.values()) == 50
    config = yaml.safe_load((tmp_path / "state" / "dagster" / "dagster.yaml").read_text())
    assert config["telemetry"] == {"enabled": False}
    with persistent_instance(settings) as instance:
        runs = instance.get_runs()
        assert len(runs) == report.runs and all(r.job_name == "ingest" for r in runs)
        assert all(r.is_success for r in runs)
        event = instance.get_latest_materialization_event(landing_key(EventType.PRODUCTION))
        assert event is not None
