"""The views in Dagster: assets downstream of landing (itself downstream of the suppliers'
topics) with owners, kinds, column schemas and freshness; a views run after ingest that
refreshes them and passes their checks; a broken total that fails its check with sample
rows; and `sangsaeng views refresh` runs kept on the state dir's instance."""

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import func, select, update

from orchestration.definitions import build_definitions
from orchestration.defs.ingest.assets import CHECK_NAME, landing_key, topic_key
from orchestration.defs.ingest.definitions import resources
from orchestration.defs.views.assets import view_key
from orchestration.instance import persistent_instance
from orchestration.run import run_ingest, run_views
from pipelines.landing.models import LANDING
from pipelines.views.catalog import VIEWS, ordered
from pipelines.views.checks import TOTALS, checks_of
from pipelines.views.production import production_daily
from sangsaeng.db import make_engine
from sangsaeng.settings import Settings, load_settings
from schemas.topics import EventType
from tests.integration.ingest_world import IngestWorld
from tests.support import cli_env, run_cli

pytestmark = pytest.mark.integration


def _kinds(node: object) -> set[str]:
    return {k.removeprefix("dagster/kind/") for k in node.tags if k.startswith("dagster/kind/")}  # type: ignore[attr-defined]


def _columns(node: object) -> dict[str, dg.TableColumn]:
    """The column schema of an asset, by column name."""
    schema = node.metadata["dagster/column_schema"]  # type: ignore[attr-defined]
    return {c.name: c for c in getattr(schema, "schema", schema).columns}


def test_definitions_show_lineage_owners_kinds_schema_and_freshness(tmp_path: Path) -> None:
    defs = build_definitions(load_settings(database_url=f"sqlite:///{tmp_path / 'd.db'}"))
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()

    # The suppliers' topics: external assets (nothing materialises them), upstream of landing.
    for e in EventType:
        topic = graph.get(topic_key(e))
        assert not topic.is_materializable and _kinds(topic) == {"kafka", "avro"}
        landing = graph.get(landing_key(e))
        assert landing.parent_keys == {topic_key(e)}
        assert _kinds(landing) == {"kafka", "python", "greatexpectations", "sqlite"}
        assert landing.owners == ["team:data-platform"] and landing.group_name == "landing"
        assert landing.freshness_policy.fail_window.to_timedelta() == timedelta(hours=1)
    production = graph.get(landing_key(EventType.PRODUCTION))
    columns = _columns(production)
    # Landing columns are described by the contract's Avro docs, plus ingest's own columns.
    assert columns["quantity_good"].description.startswith("Good output in this period")
    assert columns["business_day"].description.startswith("The supplier's local day")
    assert columns["planned_quantity"].constraints.nullable
    assert not columns["quantity_good"].constraints.nullable
    topic_columns = _columns(graph.get(topic_key(EventType.MACHINE_STATUS)))
    assert topic_columns["state"].type == "enum MachineState"

    # Every view of the catalogue: an asset of `views`, downstream of what it reads.
    checks = {(k.asset_key, k.name) for k in graph.asset_check_keys}
    for view in VIEWS:
        node = graph.get(view_key(view.name))
        assert node.group_name == "views" and node.owners == ["team:data-platform"]
        assert _kinds(node) == {"sql", "sqlite"}
        expected = {landing_key(e) for e in view.reads} | {view_key(d) for d in view.depends_on}
        assert node.parent_keys == expected
        assert {(view_key(view.name), c) for c in checks_of(view)} <= checks
        assert node.freshness_policy.fail_window.to_timedelta() == timedelta(hours=2)
        assert list(_columns(node)) == [c.name for c in view.table.columns]
    good = _columns(graph.get(view_key("production_daily")))["good"]
    assert good.description == "Σ quantity_good (units)." and good.type == "BIGINT"

    views = defs.resolve_job_def("views")
    assert views.tags["sangsaeng/pipeline"] == "views"
    sensor = defs.resolve_sensor_def("views_after_ingest")
    assert isinstance(sensor, dg.RunStatusSensorDefinition) and sensor.job_name == "views"
    # The database's kind follows the configured URL.
    on_postgres = build_definitions(load_settings(database_url="postgresql://u@127.0.0.1/x"))
    assert "postgres" in _kinds(on_postgres.resolve_asset_graph().get(view_key("production_daily")))


def _sensor(settings: Settings, instance: dg.DagsterInstance, run_id: str) -> object:
    """What the views sensor answers to the success of ingest run `run_id`."""
    sensor = build_definitions(settings).resolve_sensor_def("views_after_ingest")
    (success,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
    with dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=success.dagster_event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources=resources(settings),
    ) as context:
        return sensor(context)


def _evaluations(instance: dg.DagsterInstance, run_id: str) -> list[object]:
    return [
        e.dagster_event.event_specific_data
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]


def test_views_run_after_ingest_and_pass_their_checks(
    world: IngestWorld, db_url: str, tmp_path: Path
) -> None:
    world.load_reference(db_url)
    world.produce_mix(60)
    settings = world.settings(db_url, state_dir=tmp_path / "state")
    run_ingest(settings, until_caught_up=True)

    with persistent_instance(settings) as instance:
        (last,) = instance.get_runs(dg.RunsFilter(job_name="ingest"), limit=1)
        request = _sensor(settings, instance, last.run_id)
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == f"after-ingest-{last.run_id}"
        # A views run already waiting in the queue takes these keys: no second one.
        views_job = build_definitions(settings).resolve_job_def("views")
        queued = instance.create_run_for_job(views_job, status=dg.DagsterRunStatus.NOT_STARTED)
        assert "waits in the queue" in _sensor(settings, instance, last.run_id).skip_message
        instance.delete_run(queued.run_id)

        # The GE check of a batch with refused records shows a few and says where the rest are.
        production = next(
            c
            for r in instance.get_runs(dg.RunsFilter(job_name="ingest"))
            for c in _evaluations(instance, r.run_id)
            if c.asset_key == landing_key(EventType.PRODUCTION) and not c.passed
        )
        assert production.check_name == CHECK_NAME
        sample = production.metadata["sample_quarantined"]
        assert 1 <= len(sample.records) <= 5
        assert all(r.data["where"].startswith("sup.") for r in sample.records)
        assert (
            "sangsaeng quarantine list --event-type production" in production.metadata["more"].value
        )

    report = run_views(settings, only_if_touched=True)
    assert [d.view for d in report.refreshed] == [v.name for v in ordered()]
    assert report.failed_checks == []
    done = {d.view: d for d in report.refreshed}["production_daily"]
    assert done.keys > 0 and done.rows > 0

    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.scalar(select(func.count()).select_from(production_daily))
        landed = conn.scalar(select(func.count()).select_from(LANDING[EventType.PRODUCTION]))
    engine.dispose()
    with persistent_instance(settings) as instance:
        run = instance.get_run_by_id(report.run_id)
        assert run.job_name == "views" and run.is_success
        assert run.tags["sangsaeng/pipeline"] == "views"
        event = instance.get_latest_materialization_event(view_key("production_daily"))
        meta = event.asset_materialization.metadata
        assert meta["dagster/row_count"].value == rows == done.total_rows
        assert meta["keys_recomputed"].value == done.keys
        landing = instance.get_latest_materialization_event(landing_key(EventType.PRODUCTION))
        assert landing.asset_materialization.metadata["dagster/row_count"].value == landed
        evaluations = _evaluations(instance, report.run_id)
        assert {(c.asset_key, c.check_name) for c in evaluations} == {
            (view_key(v.name), c) for v in VIEWS for c in checks_of(v)
        }
        assert all(c.passed for c in evaluations)

        # Nothing touched since: the sensor stays quiet, and so does `sangsaeng ingest`.
        assert isinstance(_sensor(settings, instance, last.run_id), dg.SkipReason)
    assert run_views(settings, only_if_touched=True).run_id is None

    # A batch with no records materialises no landing asset (each keeps its last one);
    # the topics are observed, with their lag.
    again = run_ingest(settings, until_caught_up=False)
    assert again.read == 0
    with persistent_instance(settings) as instance:
        (empty,) = instance.get_runs(dg.RunsFilter(job_name="ingest"), limit=1)
        assert not instance.all_logs(
            empty.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        )
        observed = instance.all_logs(empty.run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION)
        assert {o.dagster_event.asset_key for o in observed} == {topic_key(e) for e in EventType}


def test_a_broken_total_fails_its_check_with_sample_rows(
    world: IngestWorld, tmp_path: Path
) -> None:
    """`sangsaeng ingest` refreshes the views; a view row tampered with afterwards fails
    `totals_reconcile` on the next `sangsaeng views refresh` (exit 1, the supplier and the
    difference shown), and `--full` rebuilds it. Every run is on the state dir's instance.
    SQLite only: this is the CLI's wiring (two processes starting Dagster); the checks on
    PostgreSQL are the test above's and test_views_checks'."""
    db_url = f"sqlite:///{tmp_path / 'sangsaeng.db'}"
    world.load_reference(db_url)
    world.produce_mix(40, invalid_each=0)
    state = tmp_path / "state"
    env = cli_env(**world.setting_values(db_url), state_dir=str(state))
    ingested = run_cli(env, "ingest", "--until-caught-up", timeout=300)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    assert "production_daily: " in ingested.stdout

    engine = make_engine(db_url)
    with engine.begin() as conn:
        supplier, day = conn.execute(
            select(production_daily.c.supplier_id, production_daily.c.day).limit(1)
        ).one()
        conn.execute(
            update(production_daily)
            .where(production_daily.c.supplier_id == supplier, production_daily.c.day == day)
            .values(good=production_daily.c.good + 7)
        )
    refreshed = run_cli(env, "views", "refresh", "--view", "production_daily")
    assert refreshed.returncode == 1, refreshed.stdout + refreshed.stderr
    assert "production_daily: check totals_reconcile failed" in refreshed.stderr
    assert supplier in refreshed.stdout  # the sample row

    settings = world.settings(db_url, state_dir=state)
    with persistent_instance(settings) as instance:
        runs = instance.get_runs()
        assert [r.job_name for r in runs if r.job_name == "views"] == ["views", "views"]
        assert all(r.is_success for r in runs)  # a failed check does not fail the run
        (totals,) = [
            c
            for c in _evaluations(instance, runs[0].run_id)
            if c.asset_key == view_key("production_daily") and c.check_name == TOTALS
        ]
        assert not totals.passed and totals.severity == dg.AssetCheckSeverity.ERROR
        (row,) = [r.data for r in totals.metadata["samples"].records]
        assert (row["supplier_id"], row["view_column"], row["difference"]) == (supplier, "good", 7)
        assert f"--supplier {supplier}" in totals.metadata["more"].value

    rebuilt = run_views(settings, ["production_daily"], full=True)
    assert rebuilt.failed_checks == [] and rebuilt.refreshed[0].full
    engine.dispose()
