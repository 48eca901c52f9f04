"""The registry's REST API: the subset of Confluent Schema Registry that Avro clients use.

Responses use Confluent's content type and error bodies (`{"error_code", "message"}`),
so confluent-kafka's `SchemaRegistryClient` works against it unchanged. Every endpoint
but the health check `/` (and the docs) needs HTTP basic auth of a user whose role
allows it (`read` < `write` < `admin`, see `auth.py`) once the registry has users:
401 (40101) without valid credentials, 403 (40301) for a role too low, 429 (42901)
after too many failed logins. Bodies over the size limit get 413 before parsing.
The OpenAPI schema lists, per endpoint, the error codes it can answer with; `/docs` and
`/redoc` load their assets from the registry itself.
"""

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security.http import HTTPBase
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sangsaeng import __version__
from sangsaeng.http import BodyLimit, service_app
from schemas.registry import MEDIA_TYPE, errors
from schemas.registry.auth import Credentials, LoginThrottled, Role, User
from schemas.registry.errors import ERROR_CODES, RegistryError
from schemas.registry.limits import MAX_BODY_BYTES
from schemas.registry.store import MAX_VERSION, RegistryStore

log = logging.getLogger(__name__)


class RegistryJSON(JSONResponse):
    media_type = MEDIA_TYPE


def stored_json(schema_text: str) -> Response:
    """A stored schema as the response body, as stored: no parsing, so no depth to exceed.

    The stored text is the canonical form, compact JSON as `RegistryJSON` would write it.
    """
    return Response(schema_text, media_type=MEDIA_TYPE)


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


class ErrorBody(BaseModel):
    """Confluent's error body, the answer to every refused request."""

    error_code: int = Field(
        description="The HTTP status, or a finer code starting with it (40401, 42201, ...)."
    )
    message: str = Field(description="What went wrong and, where it helps, what to do.")


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses` for these error codes: one per HTTP status, an example per code.

    Raises `KeyError` for a code missing from `errors.ERROR_CODES`.
    """
    by_status: dict[int, list[int]] = {}
    for code in sorted(set(codes)):
        by_status.setdefault(ERROR_CODES[code][0], []).append(code)

    def example(code: int) -> dict[str, Any]:
        meaning = ERROR_CODES[code][1]
        return {"summary": meaning, "value": {"error_code": code, "message": meaning}}

    return {
        status: {
            "model": ErrorBody,
            "description": "\n".join(f"- `{c}`: {ERROR_CODES[c][1]}" for c in found),
            "content": {MEDIA_TYPE: {"examples": {str(c): example(c) for c in found}}},
        }
        for status, found in sorted(by_status.items())
    }


# Error codes by what an endpoint does; `documented(*READ, *SUBJECT, ...)` per route.
AUTH = (40101, 42901)  # needs a registry user (role read at least)
READ = (422, 50302, *AUTH)  # any parameter; any store access; a user
SUBJECT = (42208, 40401)  # names a subject that must exist
BODY = (400, 413, 42201)  # takes a schema in its body
ROLE = (40301,)  # needs a role above read


def _error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> RegistryJSON:
    return RegistryJSON(
        {"error_code": code, "message": message}, status_code=status, headers=headers
    )


# Declares HTTP basic auth in the OpenAPI schema (Swagger UI's "Authorize"); the
# header itself is checked by `credentials`, so a malformed one is a 40101 too.
basic = HTTPBase(
    scheme="basic",
    scheme_name="registryUser",
    description="A registry user: `admin` (password in the state dir's "
    "registry-credentials file) or one made with `sangsaeng registry add-user`.",
    auto_error=False,
)


def needs(credentials: Credentials, role: Role) -> Any:
    """The dependency admitting users of `role` or higher, checked against `credentials`
    (anyone without credentials while the registry has no user at all)."""

    def caller(request: Request, _: Annotated[Any, Security(basic)]) -> User | None:
        header = request.headers.get("authorization")
        try:
            user = credentials.authenticate(header, request.client.host if request.client else "")
        except LoginThrottled as exc:
            raise RegistryError(
                429,
                42901,
                f"too many failed logins for this user or from this address: retry after "
                f"{exc.retry_after_s} s (a correct password is refused until then too)",
                {"Retry-After": str(exc.retry_after_s)},
            ) from None
        if user is None:
            if header is None and not credentials.has_users():
                return None
            raise RegistryError(
                401,
                40101,
                f"this needs a registry user with role {role} or higher (HTTP basic auth): "
                + ("none was sent" if header is None else "unknown user or wrong password"),
            )
        if not user.role.allows(role):
            raise RegistryError(
                403,
                40301,
                f"user {user.name!r} has role {user.role}; this needs role {role} or higher",
            )
        return user

    return Depends(caller)


def create_app(
    store: RegistryStore, credentials: Credentials, *, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    """The registry as an ASGI app over `store`, requests checked against `credentials`."""
    app = service_app(
        title="Sangsaeng schema registry",
        version=__version__,
        description="Confluent-compatible Schema Registry REST API (Avro) for Sangsaeng's "
        "event contracts. Every endpoint but `/` needs HTTP basic auth of a registry user "
        "whose role allows it: read (lookups), write (register), admin (delete, configure).",
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
        headers = {**(challenge if exc.status == 401 else {}), **exc.headers}
        return _error(exc.status, exc.error_code, exc.message, headers or None)

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

    reader, writer, admin = ([needs(credentials, role)] for role in Role)
    Deleted = Annotated[bool, Query(description="Include soft-deleted entries.")]
    SchemaId = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Schema id.")]

    @app.get("/", summary="Root (health check)")
    def root() -> dict[str, Any]:
        return {}

    @app.get("/schemas/types", dependencies=reader, responses=documented(*AUTH))
    def schema_types() -> list[str]:
        return ["AVRO"]

    @app.get("/subjects", responses=documented(*READ), dependencies=reader)
    def list_subjects(deleted: Deleted = False) -> list[str]:
        return store.subjects(deleted=deleted)

    @app.post(
        "/subjects/{subject}/versions",
        summary="Register a schema under a subject",
        responses=documented(*ROLE, *BODY, *READ, 42208, 409),
        dependencies=writer,
    )
    def register(subject: str, body: SchemaRequest, normalize: bool = False) -> dict[str, Any]:
        found = store.register(subject, body.avro_text())
        return {"id": found.id, "version": found.version}

    @app.post(
        "/subjects/{subject}",
        summary="Look up a schema under a subject",
        responses=documented(*BODY, *SUBJECT, *READ, 40403),
        dependencies=reader,
    )
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

    @app.get(
        "/subjects/{subject}/versions", responses=documented(*SUBJECT, *READ), dependencies=reader
    )
    def list_versions(subject: str, deleted: Deleted = False) -> list[int]:
        return store.versions(subject, deleted=deleted)

    @app.get(
        "/subjects/{subject}/versions/{version}",
        responses=documented(*SUBJECT, *READ, 40402, 42202),
        dependencies=reader,
    )
    def get_version(subject: str, version: str, deleted: Deleted = False) -> dict[str, Any]:
        found = store.get_version(subject, version, deleted=deleted)
        return {
            "subject": found.subject,
            "id": found.id,
            "version": found.version,
            "schema": found.schema,
        }

    @app.get(
        "/subjects/{subject}/versions/{version}/schema",
        responses=documented(*SUBJECT, *READ, 40402, 42202),
        dependencies=reader,
    )
    def get_version_schema(subject: str, version: str, deleted: Deleted = False) -> Response:
        return stored_json(store.get_version(subject, version, deleted=deleted).schema)

    @app.get("/schemas/ids/{schema_id}", responses=documented(*READ, 40403), dependencies=reader)
    def get_schema(schema_id: SchemaId, subject: str | None = None) -> dict[str, Any]:
        return {"schema": store.schema_by_id(schema_id)}

    @app.get(
        "/schemas/ids/{schema_id}/schema", responses=documented(*READ, 40403), dependencies=reader
    )
    def get_schema_only(schema_id: SchemaId) -> Response:
        return stored_json(store.schema_by_id(schema_id))

    @app.get(
        "/schemas/ids/{schema_id}/versions", responses=documented(*READ, 40403), dependencies=reader
    )
    def get_schema_versions(schema_id: SchemaId, deleted: Deleted = False) -> list[dict[str, Any]]:
        return [{"subject": s, "version": v} for s, v in store.usages(schema_id, deleted=deleted)]

    @app.get(
        "/schemas/ids/{schema_id}/subjects", responses=documented(*READ, 40403), dependencies=reader
    )
    def get_schema_subjects(schema_id: SchemaId, deleted: Deleted = False) -> list[str]:
        return sorted({s for s, _ in store.usages(schema_id, deleted=deleted)})

    @app.delete(
        "/subjects/{subject}",
        responses=documented(*ROLE, *SUBJECT, *READ, 40404, 40405),
        dependencies=admin,
    )
    def delete_subject(subject: str, permanent: bool = False) -> list[int]:
        return store.delete_subject(subject, permanent=permanent)

    @app.delete(
        "/subjects/{subject}/versions/{version}",
        responses=documented(*ROLE, *SUBJECT, *READ, 40402, 40407, 42202),
        dependencies=admin,
    )
    def delete_version(subject: str, version: str, permanent: bool = False) -> int:
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
        responses=documented(*BODY, *SUBJECT, *READ, 40402, 42202),
        dependencies=reader,
    )
    def test_one(
        subject: str, version: str, body: SchemaRequest, verbose: bool = False
    ) -> dict[str, Any]:
        return _compatibility(subject, body, version, verbose)

    @app.post(
        "/compatibility/subjects/{subject}/versions",
        summary="Test a schema against the versions the subject's level compares with",
        responses=documented(*BODY, *SUBJECT, *READ),
        dependencies=reader,
    )
    def test_all(subject: str, body: SchemaRequest, verbose: bool = False) -> dict[str, Any]:
        return _compatibility(subject, body, None, verbose)

    @app.get("/config", dependencies=reader, responses=documented(50302, *AUTH))
    def get_global_config() -> dict[str, str]:
        return {"compatibilityLevel": store.get_level()}

    @app.put("/config", responses=documented(*ROLE, *READ, 400, 413, 42203), dependencies=admin)
    def put_global_config(body: ConfigRequest) -> dict[str, str]:
        return {"compatibility": store.set_level(body.compatibility)}

    @app.get("/config/{subject}", responses=documented(*READ, 42208, 40408), dependencies=reader)
    def get_subject_config(subject: str, defaultToGlobal: bool = False) -> dict[str, str]:
        return {"compatibilityLevel": store.get_level(subject, default_to_global=defaultToGlobal)}

    @app.put(
        "/config/{subject}",
        responses=documented(*ROLE, *READ, 400, 413, 42203, 42208),
        dependencies=admin,
    )
    def put_subject_config(subject: str, body: ConfigRequest) -> dict[str, str]:
        return {"compatibility": store.set_level(body.compatibility, subject)}

    @app.delete(
        "/config/{subject}", responses=documented(*ROLE, *SUBJECT, *READ), dependencies=admin
    )
    def delete_subject_config(subject: str) -> dict[str, str]:
        return {"compatibilityLevel": store.delete_level(subject)}

    @app.get("/mode", dependencies=reader, responses=documented(*AUTH))
    def get_mode() -> dict[str, str]:
        return {"mode": "READWRITE"}

    return app
