"""Process bookkeeping: pid records, liveness, ports, waiting."""

import os
import socket
import subprocess
import sys
import time

import pytest

from infra.process import (
    ServiceRecord,
    free_port,
    log_tail,
    pid_alive,
    port_in_use,
    process_matches,
    require_free_port,
    require_tool,
    wait_for,
)
from sangsaeng.errors import TerminalError

pytestmark = pytest.mark.unit


def test_record_round_trip(tmp_path):
    rec = ServiceRecord("kafka", 123, "127.0.0.1:9092", "2026-01-01T00:00:00+00:00", "x.log", "m")
    rec.save(tmp_path / "service.json")
    assert ServiceRecord.load(tmp_path / "service.json") == rec
    assert ServiceRecord.load(tmp_path / "missing.json") is None


def test_corrupted_record_says_what_to_do(tmp_path):
    (tmp_path / "service.json").write_text("{not json")
    with pytest.raises(TerminalError, match=r"corrupted.*--wipe"):
        ServiceRecord.load(tmp_path / "service.json")


def test_pid_alive_sees_exit_and_reaps_zombies():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_alive(proc.pid)
        # Until the child has exec'd, /proc shows the parent's command line.
        assert wait_for(lambda: process_matches(proc.pid, "time.sleep(30)"), timeout=10)
        assert not process_matches(proc.pid, "something-else")
    finally:
        proc.kill()
    # Not waited for: a zombie, which must count as dead.
    assert wait_for(lambda: not pid_alive(proc.pid), timeout=5, interval=0.05)
    assert not pid_alive(2**22 + 7)  # beyond pid_max on Linux


def test_port_in_use_and_the_error_names_the_setting():
    port = free_port()
    assert not port_in_use("127.0.0.1", port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert port_in_use("127.0.0.1", port)
        with pytest.raises(TerminalError, match=f"port {port}.*SANGSAENG_X"):
            require_free_port("127.0.0.1", port, "SANGSAENG_X")


def test_missing_tool_says_what_to_do(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(TerminalError, match="java not found on PATH: install it"):
        require_tool("java", "install it")


def test_wait_for_returns_as_soon_as_condition_holds():
    start = time.monotonic()
    assert wait_for(lambda: True, timeout=10)
    assert time.monotonic() - start < 1
    assert not wait_for(lambda: False, timeout=0.3, interval=0.05)


def test_log_tail_picks_matching_lines(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("a INFO one\nb ERROR two\nc INFO three\n")
    assert log_tail(log) == "c INFO three"
    assert log_tail(log, grep="ERROR") == "b ERROR two"
    assert log_tail(tmp_path / "nope.log") == ""
    assert os.path.exists(log)
