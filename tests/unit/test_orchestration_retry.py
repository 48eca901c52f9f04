"""The one retry mechanism of the assets: a transient error is attempted again (up to
`TRANSIENT_RETRIES`), a terminal one fails the step at once and reaches the caller as
itself (the CLI prints its message)."""

import dagster as dg
import pytest

from orchestration.defs import conventions
from orchestration.defs.conventions import TRANSIENT_RETRIES, transient_errors_retried
from sangsaeng.errors import ConfigError, TransientError

pytestmark = pytest.mark.unit


def _job(failures: list[Exception]) -> tuple[dg.JobDefinition, list[int]]:
    attempts: list[int] = []

    @dg.asset
    def flaky(context: dg.AssetExecutionContext) -> None:
        attempts.append(context.retry_number)
        with transient_errors_retried(context):
            if failures:
                raise failures.pop(0)

    defs = dg.Definitions(assets=[flaky], jobs=[dg.define_asset_job("j")])
    return defs.resolve_job_def("j"), attempts


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conventions, "FIRST_RETRY_WAIT_S", 0.01)


def test_a_transient_error_is_retried_until_it_passes() -> None:
    job, attempts = _job([TransientError("database unavailable"), TransientError("again")])
    assert job.execute_in_process(instance=dg.DagsterInstance.ephemeral()).success
    assert attempts == [0, 1, 2]


def test_a_transient_error_that_stays_gives_up_after_the_retries() -> None:
    from dagster._core.errors import DagsterMaxRetriesExceededError

    job, attempts = _job([TransientError("down")] * (TRANSIENT_RETRIES + 2))
    with pytest.raises(DagsterMaxRetriesExceededError):
        job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert len(attempts) == TRANSIENT_RETRIES + 1


def test_a_terminal_error_fails_at_once_as_itself() -> None:
    job, attempts = _job([ConfigError("bad setting: fix SANGSAENG_X")])
    with pytest.raises(ConfigError, match="fix SANGSAENG_X"):
        job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert attempts == [0]
