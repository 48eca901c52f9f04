"""Every setting of the platform, in one place, read from `SANGSAENG_*` env vars.

Defaults are the embedded single-machine stack: Kafka, registry, gateway and the
buyer API on 127.0.0.1, SQLite under the state dir. Unknown `SANGSAENG_*` variables
are rejected so a typo never silently falls back to a default.
"""

import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sangsaeng.errors import ConfigError

ENV_PREFIX = "SANGSAENG_"


class Settings(BaseSettings):
    """The platform's settings; each field is the env var `SANGSAENG_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers (host:port[,host:port])."
    )
    kafka_controller_port: int = Field(
        9093, ge=1, le=65535, description="Port of the local broker's KRaft controller."
    )
    kafka_heap_mb: int = Field(512, ge=128, description="Heap of the local Kafka broker (MiB).")
    kafka_security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL", "PLAINTEXT"] | None = Field(
        None,
        description="How clients meet the broker: SASL_PLAINTEXT or SASL_SSL (SCRAM-SHA-512 "
        "logins, as the local broker requires; SSL adds TLS) or PLAINTEXT (a broker of your "
        "own without logins); unset: SASL_SSL when the local stack made a TLS CA "
        "(<state_dir>/tls/ca.pem, `stack up --tls`), else SASL_PLAINTEXT.",
    )
    kafka_ssl_cafile: Path | None = Field(
        None,
        description="CA certificate (PEM) that signs the broker's TLS certificate; unset: "
        "<state_dir>/tls/ca.pem.",
    )
    kafka_username: str | None = Field(
        None,
        description="SCRAM user this process logs in to Kafka as (a supplier's, printed by "
        "`sangsaeng suppliers add`); unset: the local stack's platform users in "
        "<state_dir>/kafka-credentials.",
    )
    kafka_password: SecretStr | None = Field(
        None, description="Password of SANGSAENG_KAFKA_USERNAME."
    )
    schema_registry_url: str = Field("http://127.0.0.1:8081", description="Schema registry.")
    gateway_url: str = Field("http://127.0.0.1:8088", description="HTTP ingest gateway.")
    api_url: str = Field("http://127.0.0.1:8000", description="Buyer API and dashboard.")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL of the platform DB; unset: SQLite in the state dir "
        "(<state_dir>/sangsaeng.db).",
    )
    registry_database_url: str = Field(
        "",
        description="SQLAlchemy URL of the schema registry's database; unset: a SQLite file "
        "of its own in the state dir when the platform database is SQLite (so registrations "
        "never wait behind an ingest holding SQLite's one write lock), else the platform DB.",
    )
    dagster_url: str = Field(
        "http://127.0.0.1:3000", description="Where `sangsaeng ui` serves the Dagster UI."
    )
    state_dir: Path = Field(Path(".sangsaeng"), description="Local state: stack, spools, DB.")
    cache_dir: Path = Field(
        Path.home() / ".cache" / "sangsaeng",
        description="Downloads kept across checkouts (the Kafka jars).",
    )
    registry_auth: str | None = Field(
        None,
        description="user:password of a schema registry user (role read to look up, write to "
        "register); unset: the local "
        "stack's admin credentials in <state_dir>/registry-credentials.",
    )
    topic_partitions: int = Field(3, ge=1, le=256, description="Partitions of a new topic.")
    topic_retention_days: int = Field(
        30, ge=1, description="How long supplier topics keep events (days)."
    )
    topic_max_message_bytes: int = Field(
        1_048_576,
        ge=65_536,
        le=64 * 1_048_576,
        description="max.message.bytes of a supplier's topics, set when onboarding creates "
        "them; the edge refuses an event that would not fit (less 1 KiB for Kafka's record "
        "overhead and headers).",
    )
    gateway_rate_per_second: float = Field(
        20.0, gt=0, description="Requests per second allowed per gateway API key (burst 2x)."
    )
    ingest_topics: str = Field(
        r"sup\..+",
        description="Regular expression of the supplier topics this ingest reads (all by "
        "default; narrow it to split suppliers over several ingest deployments).",
    )
    ingest_max_records: int = Field(
        100_000, ge=1, description="Records per ingest micro-batch (one database transaction)."
    )
    ingest_max_seconds: float = Field(
        30.0, gt=0, description="Longest an ingest micro-batch waits for records (seconds)."
    )
    event_future_seconds: float = Field(
        300.0, ge=0, description="How far event_time may lie ahead of its receipt (seconds)."
    )
    event_horizon_days: float = Field(
        180.0, gt=0, description="Oldest event_time accepted, in days before its receipt."
    )
    event_time_min: date = Field(
        date(2000, 1, 1),
        ge=date(1900, 1, 1),
        description="Earliest date any timestamp or date field of an event may hold.",
    )
    event_time_max_years_ahead: int = Field(
        100,
        ge=1,
        le=1000,
        description="How many years ahead of now a timestamp or date field may lie.",
    )
    postgres_port: int = Field(
        54329, ge=1, le=65535, description="Port of the local PostgreSQL cluster."
    )
    impact_ramp_up_days: int = Field(
        14,
        ge=0,
        le=365,
        description="Days from a supplier's smart-factory go-live left out of the "
        "programme_impact view's before/after comparison, while the new factory ramps up "
        "(a change takes effect at the next `sangsaeng views refresh --full`).",
    )
    grid_emission_factor: float = Field(
        0.4781,
        gt=0,
        le=5,
        description="Emission factor of grid electricity (kg CO2e per kWh) for the carbon "
        "view's estimate: Korea's national electricity factor as published by the Greenhouse "
        "Gas Inventory and Research Center (GIR); secondary data, check the current notice.",
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {value!r}")
        return value

    @field_validator("database_url", "registry_database_url")
    @classmethod
    def _url_parses(cls, value: str) -> str:
        if value:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(value)
            except ArgumentError:
                raise ValueError(
                    f"not a database URL: {value!r} (e.g. sqlite:///path/sangsaeng.db or "
                    "postgresql://user@host:5432/sangsaeng)"
                ) from None
        return value

    @field_validator("ingest_topics")
    @classmethod
    def _regex_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_env(cls, data: Any) -> Any:
        known = {ENV_PREFIX + name.upper() for name in cls.model_fields}
        unknown = sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known)
        if unknown:
            raise ValueError(
                f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return data

    @model_validator(mode="after")
    def _database_in_state_dir(self) -> "Settings":
        # frozen model: the derived defaults are set once here, before anyone can read them
        if not self.database_url:
            object.__setattr__(
                self, "database_url", f"sqlite:///{(self.state_dir / 'sangsaeng.db').resolve()}"
            )
        if not self.registry_database_url:
            own = f"sqlite:///{(self.state_dir / 'registry.db').resolve()}"
            shared = not self.database_url.startswith("sqlite")
            object.__setattr__(self, "registry_database_url", self.database_url if shared else own)
        return self

    @property
    def dagster_home(self) -> Path:
        """Dagster's instance (run history, schedules) for the CLI, the demo and `ui`."""
        return self.state_dir / "dagster"

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        """The first bootstrap server as (host, port): where the local broker listens."""
        host, _, port = self.kafka_bootstrap.split(",")[0].strip().rpartition(":")
        return host, int(port)

    @property
    def stack_dir(self) -> Path:
        """Where the local stack keeps its services' data, logs and pid files."""
        return self.state_dir / "stack"

    @property
    def local_postgres_url(self) -> str:
        """SQLAlchemy URL of the project-local PostgreSQL cluster started by `stack up`."""
        return f"postgresql+psycopg://sangsaeng@127.0.0.1:{self.postgres_port}/sangsaeng"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment (and `overrides`).

    Raises `ConfigError` naming the env var and the problem, never a raw traceback.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            name = f"{ENV_PREFIX}{where.upper()}" if where else "settings"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
