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
import secrets
import shutil
import subprocess
import tempfile
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from infra.kafka.tls import TlsFiles
from infra.process import require_free_port, require_tool
from infra.service import ManagedService, Report, quiet
from sangsaeng.errors import TerminalError
from sangsaeng.files import private_dir
from sangsaeng.kafka_access import ADMIN, MECHANISM, new_password

POM = Path(__file__).with_name("pom.xml")
MIN_JAVA = 17
START_TIMEOUT_S = 90.0


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


def resolve_jars(cache_dir: Path, report: Report = quiet) -> Path:
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


def _jaas_quoted(text: str) -> str:
    """`text` inside a JAAS option's double quotes."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


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
class KafkaBroker(ManagedService):
    """One single-node KRaft broker whose files live under `service_dir`."""

    service_dir: Path
    cache_dir: Path
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    heap_mb: int = 512
    # the super user's password: in the storage's first metadata (SCRAM) and the
    # controller listener's login (PLAIN); the stack keeps it in the state dir
    admin_password: str = field(default_factory=new_password, repr=False)
    # False: the old PLAINTEXT listener without logins or ACLs, for benchmarks measuring
    # what the logins cost; never the stack's
    logins: bool = True
    # the TLS listener's keystore and CA (`stack up --tls`); None: SASL_PLAINTEXT
    tls: TlsFiles | None = None

    name = "kafka"
    title = "Kafka broker"

    @property
    def bootstrap(self) -> str:
        """host:port clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return self.bootstrap

    @property
    def marker(self) -> str:
        return str(self.properties_file.resolve())

    @property
    def data_dir(self) -> Path:
        return self.service_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.service_dir / "broker.log"

    @property
    def logins_marker(self) -> Path:
        """Present once the storage was formatted holding the super user's login."""
        return self.service_dir / "scram-admin"

    @property
    def properties_file(self) -> Path:
        return self.service_dir / "server.properties"

    def server_properties(self) -> str:
        """The broker's configuration: one node as broker and controller, loopback only,
        every client logged in (SCRAM-SHA-512) and authorised by ACLs, `admin` the super
        user. The controller's listener takes PLAIN: KRaft controllers cannot check SCRAM
        logins, whose credentials live in the metadata they serve."""
        return "\n".join([*self._listener_properties(), *self._common_properties(), ""])

    def _listener_properties(self) -> list[str]:
        listeners = (
            f"{{0}}://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}"
        )
        if not self.logins:
            return [
                f"listeners={listeners.format('PLAINTEXT')}",
                f"advertised.listeners=PLAINTEXT://{self.host}:{self.port}",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            ]
        protocol = self.protocol
        password = _jaas_quoted(self.admin_password)
        scram = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{password}";'
        )
        plain = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN}" password="{password}" user_{ADMIN}="{password}";'
        )
        tls = []
        if self.tls is not None:
            tls = [
                "ssl.keystore.type=PKCS12",
                f"ssl.keystore.location={self.tls.keystore.resolve()}",
                f"ssl.keystore.password={self.tls.keystore_password}",
                f"ssl.key.password={self.tls.keystore_password}",
                # the broker checks its own certificate when it connects to itself
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={self.tls.ca_file.resolve()}",
            ]
        return [
            f"listeners={listeners.format(protocol)}",
            f"advertised.listeners={protocol}://{self.host}:{self.port}",
            f"inter.broker.listener.name={protocol}",
            f"listener.security.protocol.map={protocol}:{protocol},CONTROLLER:SASL_PLAINTEXT",
            f"sasl.enabled.mechanisms={MECHANISM}",
            f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
            f"listener.name.{protocol.lower()}.{MECHANISM.lower()}.sasl.jaas.config={scram}",
            *tls,
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.controller.plain.sasl.jaas.config={plain}",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{ADMIN}",
        ]

    def _common_properties(self) -> list[str]:
        return [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{self.host}:{self.controller_port}",
            "controller.listener.names=CONTROLLER",
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
        ]

    @property
    def protocol(self) -> str:
        """The clients' listener's security protocol."""
        if not self.logins:
            return "PLAINTEXT"
        return "SASL_SSL" if self.tls is not None else "SASL_PLAINTEXT"

    @property
    def admin_security(self) -> dict[str, str]:
        """kafka-python's settings for logging in as the super user."""
        if not self.logins:
            return {"security_protocol": "PLAINTEXT"}
        found = {
            "security_protocol": self.protocol,
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": ADMIN,
            "sasl_plain_password": self.admin_password,
        }
        if self.tls is not None:
            found["ssl_cafile"] = str(self.tls.ca_file)
        return found

    @property
    def client_env(self) -> dict[str, str]:
        """The env vars that make a process log in as the super user (or, without
        logins, speak PLAINTEXT)."""
        if not self.logins:
            return {"SANGSAENG_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
        return {"SANGSAENG_KAFKA_USERNAME": ADMIN, "SANGSAENG_KAFKA_PASSWORD": self.admin_password}

    def _admin_digest(self, salt: str | None = None) -> str:
        """`salt:sha256(salt, password)`: tells a changed password from the one formatted
        into the storage, and keeps neither."""
        salt = salt or secrets.token_hex(8)
        return f"{salt}:{hashlib.sha256(f'{salt}:{self.admin_password}'.encode()).hexdigest()}"

    def _formatted_with_admin_password(self) -> bool:
        salt, _, _ = self.logins_marker.read_text().strip().partition(":")
        return self.logins_marker.read_text().strip() == self._admin_digest(salt)

    def answers(self) -> bool:
        """True when the broker answers a metadata request and has registered itself."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                request_timeout_ms=2000,
                bootstrap_timeout_ms=2000,
                **self.admin_security,
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

    def _launch(self, report: Report) -> None:
        """Check Java, the jars and the ports; format storage if new; run `kafka.Kafka`.

        Raises `TerminalError` (Java/Maven missing, port taken, corrupted data dir,
        broker exited) or `TransientError` (did not answer in time) with what to do.
        """
        java = require_java()
        libs = resolve_jars(self.cache_dir, report)
        require_free_port(self.host, self.port, "SANGSAENG_KAFKA_BOOTSTRAP")
        require_free_port(self.host, self.controller_port, "SANGSAENG_KAFKA_CONTROLLER_PORT")

        private_dir(self.service_dir)
        self.properties_file.write_text(self.server_properties())
        log4j = self.service_dir / "log4j2.properties"
        log4j.write_text(LOG4J2)
        self._format_storage(java, libs)
        report(f"kafka: Apache Kafka {kafka_version()}")
        self._spawn_and_wait(
            [
                java,
                f"-Xms{self.heap_mb}m",
                f"-Xmx{self.heap_mb}m",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log4j.resolve()}",
                "-cp",
                f"{libs}/*",
                "kafka.Kafka",
                self.marker,
            ],
            report,
            START_TIMEOUT_S,
        )

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
            if not self.logins:
                return
            if not self.logins_marker.exists():
                raise TerminalError(
                    f"the Kafka data in {self.data_dir} was made by a broker without logins "
                    f"(before SCRAM and ACLs): run `sangsaeng stack down --wipe` to start "
                    f"afresh (this deletes local topics)"
                )
            if not self._formatted_with_admin_password():
                raise TerminalError(
                    f"the Kafka data in {self.data_dir} knows another admin password than "
                    f"the one given (the stack's is in the state dir's kafka-credentials): "
                    f"restore that file, or run `sangsaeng stack down --wipe` to start "
                    f"afresh (this deletes local topics)"
                )
            return
        private_dir(self.data_dir)
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
                self.marker,
                # the super user's SCRAM credential, in the metadata from the first record
                *(
                    ["--add-scram", f"{MECHANISM}=[name={ADMIN},password={self.admin_password}]"]
                    if self.logins
                    else []
                ),
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
        self.logins_marker.write_text(self._admin_digest() + "\n")

    def wipe(self) -> None:
        """Delete the broker's data (topics, offsets); only when it is not running."""
        self._refuse_wipe_while_running()
        shutil.rmtree(self.service_dir, ignore_errors=True)
