"""The registry's REST API: the subset of Confluent Schema Registry that Avro clients use.

Responses use Confluent's content type and error bodies (`{"error_code", "message"}`),
so confluent-kafka's `SchemaRegistryClient` works against it unchanged. Writes need
HTTP basic auth; reads are open. Bodies over the size limit get 413 before parsing.
"""

import json
import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sangsaeng import __version__
from sangsaeng.http import BodyLimit, service_app
from schemas.registry import MEDIA_TYPE, errors
from schemas.registry.auth import Credentials
from schemas.registry.errors import RegistryError
from schemas.registry.store import MAX_VERSION, RegistryStore

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


class RegistryJSON(JSONResponse):
    media_type = MEDIA_TYPE


class SchemaRequest(BaseModel):
    """A schema sent to register, look up or test."""

    model_config = ConfigDict(extra="ignore")  # clients send metadata/ruleSet we do not use

    schema_: str = Field(
        alias="schema", min_length=1, description="The Avro schema as a JSON string."
    )
    schemaType: str = Field("AVRO", description="Only AVRO is supported.")
    references: list[dict[str, Any]] = Field(default_factory=list)

    def avro_text(self) -> str:
        if self.schemaType.upper() != "AVRO":
            raise errors.invalid_schema(
                f"schemaType {self.schemaType!r} is not supported (AVRO only)"
            )
        if self.references:
            raise errors.invalid_schema("schema references are not supported")
        return self.schema_


class ConfigRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    compatibility: str = Field(
        description="NONE, BACKWARD(_TRANSITIVE), FORWARD(_TRANSITIVE), FULL(_TRANSITIVE)"
    )


def _error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> RegistryJSON:
    return RegistryJSON(
        {"error_code": code, "message": message}, status_code=status, headers=headers
    )


def create_app(
    store: RegistryStore, credentials: Credentials, *, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    """The registry as an ASGI app over `store`, writes checked against `credentials`."""
    app = service_app(
        title="Sangsaeng schema registry",
        version=__version__,
        description="Confluent-compatible Schema Registry REST API (Avro) for Sangsaeng's "
        "event contracts. Writes need HTTP basic auth.",
        default_response_class=RegistryJSON,
    )
    app.add_middleware(
        BodyLimit,
        limit=max_body_bytes,
        too_large=lambda limit: _error(413, 413, f"request body over {limit} bytes"),
    )

    @app.exception_handler(RegistryError)
    async def _registry_error(_: Request, exc: RegistryError) -> RegistryJSON:
        challenge = {"WWW-Authenticate": 'Basic realm="sangsaeng-registry"'}
        return _error(
            exc.status, exc.error_code, exc.message, challenge if exc.status == 401 else None
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> RegistryJSON:
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return _error(400, 400, "the request body is not valid JSON")
        said = "; ".join(
            f"{'.'.join(str(x) for x in p.get('loc', ()) if x != 'body') or 'body'}: {p.get('msg')}"
            for p in problems
        )
        return _error(
            422,
            42201 if any("schema" in p.get("loc", ()) for p in problems) else 422,
            f"invalid request: {said}",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> RegistryJSON:
        return _error(exc.status_code, exc.status_code, str(exc.detail))

    @app.exception_handler(SQLAlchemyError)
    async def _db_error(_: Request, exc: SQLAlchemyError) -> RegistryJSON:
        log.error("registry database error: %s", exc)
        return _error(503, 50302, "the registry database is unavailable; retry shortly")

    def writer(authorization: Annotated[str | None, Header()] = None) -> str:
        user = credentials.check_basic(authorization)
        if user is None:
            raise RegistryError(401, 40101, "writes need valid credentials (HTTP basic auth)")
        return user

    Writer = Annotated[str, Depends(writer)]
    Deleted = Annotated[bool, Query(description="Include soft-deleted entries.")]
    SchemaId = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Schema id.")]

    @app.get("/", summary="Root (health check)")
    def root() -> dict[str, Any]:
        return {}

    @app.get("/schemas/types")
    def schema_types() -> list[str]:
        return ["AVRO"]

    @app.get("/subjects")
    def list_subjects(deleted: Deleted = False) -> list[str]:
        return store.subjects(deleted=deleted)

    @app.post("/subjects/{subject}/versions", summary="Register a schema under a subject")
    def register(
        subject: str, body: SchemaRequest, _: Writer, normalize: bool = False
    ) -> dict[str, Any]:
        found = store.register(subject, body.avro_text())
        return {"id": found.id, "version": found.version}

    @app.post("/subjects/{subject}", summary="Look up a schema under a subject")
    def lookup(
        subject: str, body: SchemaRequest, deleted: Deleted = False, normalize: bool = False
    ) -> dict[str, Any]:
        found = store.lookup(subject, body.avro_text(), deleted=deleted)
        return {
            "subject": found.subject,
            "id": found.id,
            "version": found.version,
            "schema": found.schema,
        }

    @app.get("/subjects/{subject}/versions")
    def list_versions(subject: str, deleted: Deleted = False) -> list[int]:
        return store.versions(subject, deleted=deleted)

    @app.get("/subjects/{subject}/versions/{version}")
    def get_version(subject: str, version: str, deleted: Deleted = False) -> dict[str, Any]:
        found = store.get_version(subject, version, deleted=deleted)
        return {
            "subject": found.subject,
            "id": found.id,
            "version": found.version,
            "schema": found.schema,
        }

    @app.get("/subjects/{subject}/versions/{version}/schema")
    def get_version_schema(subject: str, version: str, deleted: Deleted = False) -> Any:
        return json.loads(store.get_version(subject, version, deleted=deleted).schema)

    @app.get("/schemas/ids/{schema_id}")
    def get_schema(schema_id: SchemaId, subject: str | None = None) -> dict[str, Any]:
        return {"schema": store.schema_by_id(schema_id)}

    @app.get("/schemas/ids/{schema_id}/schema")
    def get_schema_only(schema_id: SchemaId) -> Any:
        return json.loads(store.schema_by_id(schema_id))

    @app.get("/schemas/ids/{schema_id}/versions")
    def get_schema_versions(schema_id: SchemaId, deleted: Deleted = False) -> list[dict[str, Any]]:
        return [{"subject": s, "version": v} for s, v in store.usages(schema_id, deleted=deleted)]

    @app.get("/schemas/ids/{schema_id}/subjects")
    def get_schema_subjects(schema_id: SchemaId, deleted: Deleted = False) -> list[str]:
        return sorted({s for s, _ in store.usages(schema_id, deleted=deleted)})

    @app.delete("/subjects/{subject}")
    def delete_subject(subject: str, _: Writer, permanent: bool = False) -> list[int]:
        return store.delete_subject(subject, permanent=permanent)

    @app.delete("/subjects/{subject}/versions/{version}")
    def delete_version(subject: str, version: str, _: Writer, permanent: bool = False) -> int:
        return store.delete_version(subject, version, permanent=permanent)

    def _compatibility(
        subject: str, body: SchemaRequest, version: str | None, verbose: bool
    ) -> dict[str, Any]:
        messages = store.test_compatibility(subject, body.avro_text(), version)
        answer: dict[str, Any] = {"is_compatible": not messages}
        if verbose:
            answer["messages"] = messages
        return answer

    @app.post(
        "/compatibility/subjects/{subject}/versions/{version}",
        summary="Test a schema against one version of a subject",
    )
    def test_one(
        subject: str, version: str, body: SchemaRequest, verbose: bool = False
    ) -> dict[str, Any]:
        return _compatibility(subject, body, version, verbose)

    @app.post(
        "/compatibility/subjects/{subject}/versions",
        summary="Test a schema against the versions the subject's level compares with",
    )
    def test_all(subject: str, body: SchemaRequest, verbose: bool = False) -> dict[str, Any]:
        return _compatibility(subject, body, None, verbose)

    @app.get("/config")
    def get_global_config() -> dict[str, str]:
        return {"compatibilityLevel": store.get_level()}

    @app.put("/config")
    def put_global_config(body: ConfigRequest, _: Writer) -> dict[str, str]:
        return {"compatibility": store.set_level(body.compatibility)}

    @app.get("/config/{subject}")
    def get_subject_config(subject: str, defaultToGlobal: bool = False) -> dict[str, str]:
        return {"compatibilityLevel": store.get_level(subject, default_to_global=defaultToGlobal)}

    @app.put("/config/{subject}")
    def put_subject_config(subject: str, body: ConfigRequest, _: Writer) -> dict[str, str]:
        return {"compatibility": store.set_level(body.compatibility, subject)}

    @app.delete("/config/{subject}")
    def delete_subject_config(subject: str, _: Writer) -> dict[str, str]:
        return {"compatibilityLevel": store.delete_level(subject)}

    @app.get("/mode")
    def get_mode() -> dict[str, str]:
        return {"mode": "READWRITE"}

    return app
