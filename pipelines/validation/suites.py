"""One Great Expectations suite per event type, defined in code.

Each expectation carries a stable rule name in `meta["rule"]`; quarantine reasons,
the asset checks and the supplier feedback all use it. Avro decoding already enforced
the field types and presence, so the suites hold what a schema cannot say: ranges,
relations between fields, time windows, reference data and the supplier identity.

Columns a suite reads beside the payload's own (built by the runner, see `frame`):
`topic_supplier_id` (the supplier of the topic), `site_ref` (`supplier/site`),
`line_ref` (`site/line`), `part_ref` (`supplier/part`), `event_time_ahead_s` (event
time minus the time Kafka received the record), `non_finite_numbers` and
`nul_characters` (the [path, value] of each NaN or infinite double and of each string
holding a NUL character anywhere in the payload, None if there is none) and, for
energy, `average_kw`.
"""

from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe

from governance.reference import ReferenceSets
from pipelines.validation.outcome import TimeWindow
from schemas.topics import EventType

# Physical bound for a meter's average power over its period: 100 MW is far above any
# SME plant, so readings above it are unit mistakes (W sent as kW, Wh as kWh).
MAX_AVERAGE_KW = 100_000.0


def _rule(name: str) -> dict[str, Any]:
    return {"rule": name}


def _not_negative(column: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=0, meta=_rule(f"{column}_not_negative")
    )


def _not_empty(column: str) -> gxe.Expectation:
    return gxe.ExpectColumnValueLengthsToBeBetween(
        column=column, min_value=1, meta=_rule(f"{column}_required")
    )


def _in_reference(column: str, values: frozenset[str], rule: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeInSet(
        column=column, value_set=sorted(values), meta=_rule(rule)
    )


def _not_before(later: str, earlier: str) -> gxe.Expectation:
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=later,
        column_B=earlier,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
        meta=_rule(f"{later}_not_before_{earlier}"),
    )


def _common(reference: ReferenceSets, window: TimeWindow) -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeUnique(column="event_id", meta=_rule("event_id_unique")),
        # NaN passes `between` (GX skips missing values), so non-finite doubles are found
        # as values, in every double of the payload (optional and nested ones too).
        gxe.ExpectColumnValuesToBeNull(column="non_finite_numbers", meta=_rule("finite_numbers")),
        gxe.ExpectColumnValuesToBeNull(column="nul_characters", meta=_rule("no_nul_characters")),
        _not_empty("site_id"),
        _not_empty("source_system"),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="supplier_id",
            column_B="topic_supplier_id",
            meta=_rule("supplier_id_matches_topic"),
        ),
        _in_reference("topic_supplier_id", reference.suppliers, "known_supplier"),
        _in_reference("site_ref", reference.sites, "known_site"),
        gxe.ExpectColumnValuesToBeBetween(
            column="event_time_ahead_s",
            max_value=window.future_seconds,
            meta=_rule("event_time_not_in_future"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="event_time_ahead_s",
            min_value=-window.horizon_seconds,
            meta=_rule("event_time_within_horizon"),
        ),
    ]


def expectations(
    event_type: EventType, reference: ReferenceSets, window: TimeWindow
) -> list[gxe.Expectation]:
    """The expectations of `event_type`'s suite for the current reference data."""
    lines = _in_reference("line_ref", reference.lines, "known_line")
    parts = _in_reference("part_ref", reference.parts, "known_part")
    specific: dict[EventType, list[gxe.Expectation]] = {
        EventType.PRODUCTION: [
            lines,
            parts,
            _not_empty("work_order_id"),
            _not_empty("lot_id"),
            _not_negative("quantity_good"),
            _not_negative("quantity_scrap"),
            _not_negative("planned_quantity"),
            _not_before("end_time", "start_time"),
        ],
        EventType.QUALITY: [
            lines,
            parts,
            _not_empty("lot_id"),
            _not_negative("inspected_quantity"),
            _not_negative("defect_quantity"),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="inspected_quantity",
                column_B="defect_quantity",
                or_equal=True,
                meta=_rule("defect_quantity_not_above_inspected"),
            ),
        ],
        EventType.MACHINE_STATUS: [lines, _not_empty("machine_id")],
        EventType.SHIPMENT: [
            parts,
            _not_empty("shipment_id"),
            _not_empty("buyer_id"),
            _not_negative("quantity"),
            _not_negative("ordered_quantity"),  # optional (version 2): nulls are skipped
            _not_before("delivered_at", "shipped_at"),
        ],
        EventType.ENERGY: [
            lines,  # null line_id (a site meter) is not checked: GX skips missing values
            _not_empty("meter_id"),
            _not_negative("energy_kwh"),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="period_end",
                column_B="period_start",
                meta=_rule("period_end_after_period_start"),
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="average_kw", max_value=MAX_AVERAGE_KW, meta=_rule("energy_physical_bound")
            ),
        ],
    }
    return _common(reference, window) + specific[event_type]


def build_suite(
    event_type: EventType, reference: ReferenceSets, window: TimeWindow
) -> gx.ExpectationSuite:
    """The suite of `event_type`, named after it."""
    suite = gx.ExpectationSuite(name=f"{event_type.value}_events")
    for expectation in expectations(event_type, reference, window):
        suite.add_expectation(expectation)
    return suite
