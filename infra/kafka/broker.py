"""A real Apache Kafka broker in KRaft mode, run from the official jars on Maven Central.

`pom.xml` beside this file names the release. The first start asks Maven to copy the
server jars into the cache folder (once per release); after that a start is: format
the storage directory if new, write `server.properties`, run `java kafka.Kafka`, and
wait until the broker answers metadata requests.
"""

import base64
import contextlib
import hashlib
import logging
import re
import shutil
import subprocess
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.process import (
    ServiceRecord,
    ServiceStatus,
    log_tail,
    now_iso,
    process_matches,
    processes_with,
    require_free_port,
    require_tool,
    terminate,
    wait_for,
)
from sangsaeng.errors import TerminalError, TransientError

POM = Path(__file__).with_name("pom.xml")
MIN_JAVA = 17
START_TIMEOUT_S = 90.0

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def kafka_version(pom: Path = POM) -> str:
    """The Apache Kafka release named in `pom.xml` (property `kafka.version`)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not node.text:
        raise TerminalError(f"{pom} has no <kafka.version> property")
    return node.text.strip()


def java_major_version(java: str) -> int:
    """The major version of the JVM at `java` (17 for "17.0.15")."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        raise TerminalError(f"could not read the Java version from `{java} -version`")
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def require_java() -> str:
    """Path of a Java >= 17 runtime, or a `TerminalError` saying how to get one."""
    java = require_tool(
        "java",
        f"install a Java {MIN_JAVA}+ runtime (Debian: apt-get install openjdk-17-jre-headless)",
    )
    major = java_major_version(java)
    if major < MIN_JAVA:
        raise TerminalError(
            f"Java {major} found at {java}, but Apache Kafka 4 needs Java {MIN_JAVA}+: "
            f"install openjdk-17-jre-headless or put a newer java first on PATH"
        )
    return java


def resolve_jars(cache_dir: Path, report: Report = _quiet) -> Path:
    """The folder holding the broker's jars, resolved with Maven on first use.

    Cached per content of `pom.xml`, so editing the release fetches the new one.
    Raises `TerminalError` when Maven is missing or cannot resolve the artifacts.
    """
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:10]
    libs = cache_dir / f"kafka-{kafka_version()}-{digest}" / "libs"
    if (libs / ".complete").exists():
        return libs
    mvn = require_tool("mvn", "install Apache Maven (Debian: apt-get install maven)")
    report(f"Resolving Apache Kafka {kafka_version()} with Maven (first start only)")
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=libs.parent) as tmp:
        staging = Path(tmp) / "libs"
        proc = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not any(staging.glob("kafka_*.jar")):
            errors = [ln for ln in proc.stdout.splitlines() if "ERROR" in ln] or [proc.stderr]
            raise TerminalError(
                f"Maven could not resolve Apache Kafka {kafka_version()}: "
                f"{errors[0].strip()[:300]} (check access to the Maven repository "
                f"and ~/.m2/settings.xml, then retry)"
            )
        (staging / ".complete").touch()
        if libs.exists():  # a concurrent resolve finished first
            shutil.rmtree(libs)
        staging.rename(libs)
    return libs


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64 without padding.

    Like Kafka's own `Uuid.randomUuid()`, never one starting with "-": the storage
    tool's argument parser would read it as an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = warn
"""


@dataclass
class KafkaBroker:
    """One single-node KRaft broker whose files live under `service_dir`."""

    service_dir: Path
    cache_dir: Path
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    heap_mb: int = 512

    name = "kafka"

    @property
    def bootstrap(self) -> str:
        """host:port clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.service_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.service_dir / "broker.log"

    @property
    def record_file(self) -> Path:
        return self.service_dir / "service.json"

    @property
    def properties_file(self) -> Path:
        return self.service_dir / "server.properties"

    def server_properties(self) -> str:
        """The broker's configuration: one node as broker and controller, loopback only."""
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{self.host}:{self.controller_port}",
                f"listeners=PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://{self.host}:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={self.data_dir.resolve()}",
                # Topics are created on purpose (onboarding), never by a typo in a producer.
                "auto.create.topics.enable=false",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                # A single local node: no reason to wait for more group members to show up.
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )

    # -- status --------------------------------------------------------------------

    def record(self) -> ServiceRecord | None:
        return ServiceRecord.load(self.record_file)

    def status(self) -> ServiceStatus:
        """Whether the broker `up` started is running, crashed, or was never started."""
        rec = self.record()
        if rec is None:
            return ServiceStatus(self.name, "stopped", self.bootstrap)
        base = dict(address=rec.address, pid=rec.pid, since=rec.started_at, log=rec.log)
        if not process_matches(rec.pid, rec.marker):
            last = log_tail(self.log_file, grep="ERROR") or log_tail(self.log_file)
            return ServiceStatus(self.name, "crashed", **base, detail=last[:200])
        if not self._answers(timeout_s=3):
            return ServiceStatus(
                self.name,
                "unresponsive",
                **base,
                detail="process alive but not answering metadata requests",
            )
        return ServiceStatus(self.name, "running", **base)

    def _answers(self, timeout_s: float) -> bool:
        """True when the broker answers a metadata request and has registered itself."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                request_timeout_ms=int(timeout_s * 1000),
                bootstrap_timeout_ms=int(timeout_s * 1000),
            )
        except (KafkaError, OSError, ValueError):
            return False
        try:
            return bool(admin.describe_cluster().get("brokers"))
        except (KafkaError, OSError, ValueError):
            return False
        finally:
            with contextlib.suppress(Exception):
                admin.close()

    # -- start / stop -----------------------------------------------------------------

    def start(self, report: Report = _quiet) -> ServiceStatus:
        """Start the broker unless it already runs; returns its status once it answers.

        Raises `TerminalError` (Java/Maven missing, port taken, corrupted data dir,
        broker exited) or `TransientError` (did not answer in time) with what to do.
        """
        rec = self.record()
        if rec is not None:
            if process_matches(rec.pid, rec.marker):
                return self.status()
            report(f"kafka: removed stale pid file (pid {rec.pid} is not running)")
            self.record_file.unlink()

        java = require_java()
        libs = resolve_jars(self.cache_dir, report)
        require_free_port(self.host, self.port, "SANGSAENG_KAFKA_BOOTSTRAP")
        require_free_port(self.host, self.controller_port, "SANGSAENG_KAFKA_CONTROLLER_PORT")

        self.service_dir.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(self.server_properties())
        log4j = self.service_dir / "log4j2.properties"
        log4j.write_text(LOG4J2)
        self._format_storage(java, libs)

        cmd = [
            java,
            f"-Xms{self.heap_mb}m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j.resolve()}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(self.properties_file.resolve()),
        ]
        report(f"kafka: starting Apache Kafka {kafka_version()} on {self.bootstrap}")
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        ServiceRecord(
            name=self.name,
            pid=proc.pid,
            address=self.bootstrap,
            started_at=now_iso(),
            log=str(self.log_file),
            marker=str(self.properties_file.resolve()),
        ).save(self.record_file)

        ready = wait_for(
            lambda: proc.poll() is not None or self._answers(timeout_s=2),
            timeout=START_TIMEOUT_S,
            interval=0.25,
        )
        if proc.poll() is not None:
            self.record_file.unlink(missing_ok=True)
            last = log_tail(self.log_file, grep="ERROR") or log_tail(self.log_file)
            raise TerminalError(
                f"the Kafka broker exited during start-up (code {proc.returncode}): "
                f"{last[:300]} — full log: {self.log_file}"
            )
        if not ready:
            raise TransientError(
                f"the Kafka broker (pid {proc.pid}) did not answer within {START_TIMEOUT_S:.0f}s; "
                f"see {self.log_file}, then `sangsaeng stack status` or `sangsaeng stack down`"
            )
        return self.status()

    def _format_storage(self, java: str, libs: Path) -> None:
        """Format the KRaft storage on first start; refuse a data dir that is half there."""
        meta = self.data_dir / "meta.properties"
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            try:
                text = meta.read_text()
            except OSError:
                text = ""
            if "cluster.id=" not in text or "node.id=" not in text:
                raise TerminalError(
                    f"the Kafka data dir {self.data_dir} is corrupted (meta.properties is "
                    f"missing or unreadable): run `sangsaeng stack down --wipe` to start "
                    f"afresh (this deletes local topics)"
                )
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [
                java,
                "-cp",
                f"{libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                new_cluster_id(),
                "-c",
                str(self.properties_file.resolve()),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            said = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
            raise TerminalError(
                f"formatting the Kafka storage in {self.data_dir} failed: {said[-1][:300]}"
            )

    def stop(self) -> str:
        """Stop the broker `start` launched (and only that one); returns what happened."""
        try:
            rec = self.record()
        except TerminalError:
            # The pid file is unreadable: find our broker by its properties path instead.
            pids = processes_with(str(self.properties_file.resolve()))
            for pid in pids:
                terminate(pid, grace_seconds=30)
            self.record_file.unlink(missing_ok=True)
            return f"kafka: pid file was corrupted; stopped {len(pids)} broker process(es)"
        if rec is None:
            return "kafka: not started by this stack"
        if not process_matches(rec.pid, rec.marker):
            self.record_file.unlink()
            return f"kafka: was not running (pid {rec.pid} had exited); cleared its pid file"
        killed = terminate(rec.pid, grace_seconds=30)
        self.record_file.unlink(missing_ok=True)
        how = "killed after 30 s" if killed else "stopped"
        return f"kafka: {how} (pid {rec.pid})"

    def wipe(self) -> None:
        """Delete the broker's data (topics, offsets); only when it is not running."""
        if processes_with(str(self.properties_file.resolve())):
            raise TerminalError("kafka is running: stop it before wiping its data")
        shutil.rmtree(self.service_dir, ignore_errors=True)
