"""Runs tests with the wall clock moved to other days, to show none depends on the date.

    .venv/bin/python -m tests.clock_check                      # tests/unit on each date
    .venv/bin/python -m tests.clock_check tests/integration/test_ingest.py -k sqlite
    .venv/bin/python -m tests.clock_check --dates 2026-11-28,2027-03-03 tests/unit

Each run is a fresh `python -m pytest` under libfaketime (`pip install libfaketime`)
with the clock starting at the date given (00:30 UTC, so the first minutes of a UTC day
are covered too) and ticking on. The monotonic clock is left alone
(`DONT_FAKE_MONOTONIC=1`): Kafka's JVM and timeouts do not like it moved. Exits 1 when
a run fails or the fake clock did not take.
"""

import os
import subprocess
import sys
import time
from datetime import date

# A Saturday, a Sunday, a Monday, a Tuesday (the day of the report), and a Wednesday,
# a New Year's Day (Friday) and a leap day (Tuesday) in other years.
DATES = [
    date(2026, 11, 28),
    date(2026, 11, 29),
    date(2026, 11, 30),
    date(2026, 11, 24),
    date(2027, 3, 3),
    date(2027, 1, 1),
    date(2028, 2, 29),
]
PROBE = "import datetime; print(datetime.datetime.now(datetime.UTC).date().isoformat())"  # clock-ok


def faketime_env(day: date) -> dict[str, str]:
    """This process's environment with libfaketime preloaded and the clock at `day`.

    Raises `SystemExit` when libfaketime is not installed."""
    try:
        import libfaketime
    except ImportError:
        raise SystemExit("libfaketime is missing: `pip install libfaketime` (this venv)") from None
    _, preload = libfaketime.get_reload_information()
    return {
        **os.environ,
        **preload,
        "DONT_FAKE_MONOTONIC": "1",
        "FAKETIME": f"@{day.isoformat()} 00:30:00",
        "TZ": "UTC",
    }


def run(day: date, pytest_args: list[str]) -> tuple[bool, str]:
    """Run pytest with the clock at `day`; (passed, the summary line or the reason)."""
    env = faketime_env(day)
    seen = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=False
    ).stdout.strip()
    if seen != day.isoformat():
        return False, f"the fake clock did not take (the child saw {seen or 'nothing'})"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *pytest_args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or ["no output"]
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-4000:] + done.stderr[-2000:])
    return done.returncode == 0, lines[-1]


def main(argv: list[str]) -> int:
    """Run every date; print one line each; 0 when all passed."""
    dates = DATES
    if argv[:1] == ["--dates"]:
        dates = [date.fromisoformat(d) for d in argv[1].split(",")]
        argv = argv[2:]
    pytest_args = argv or ["tests/unit"]
    failed = 0
    for day in dates:
        started = time.monotonic()
        passed, summary = run(day, pytest_args)
        failed += not passed
        took = time.monotonic() - started
        verdict = "ok  " if passed else "FAIL"
        print(f"{day} {day:%a}: {verdict} {summary} ({took:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
