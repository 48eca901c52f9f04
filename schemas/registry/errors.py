"""Registry errors carrying Confluent's HTTP status and `error_code`."""

from sangsaeng.errors import PlatformError


class RegistryError(PlatformError):
    """An error the REST API answers as `{"error_code": ..., "message": ...}`."""

    def __init__(
        self, status: int, error_code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}


def subject_not_found(subject: str) -> RegistryError:
    return RegistryError(404, 40401, f"Subject '{subject}' not found.")


def version_not_found(subject: str, version: int | str) -> RegistryError:
    return RegistryError(404, 40402, f"Version {version} not found for subject '{subject}'.")


def schema_not_found(detail: str = "Schema not found") -> RegistryError:
    return RegistryError(404, 40403, detail)


def invalid_schema(detail: str) -> RegistryError:
    return RegistryError(422, 42201, f"Invalid schema: {detail}")


def invalid_version(version: str) -> RegistryError:
    return RegistryError(
        422,
        42202,
        f"The specified version '{version}' is not a valid version id. Allowed values are "
        f'between [1, 2^31-1] and the string "latest"',
    )


def invalid_compatibility(level: str, allowed: list[str]) -> RegistryError:
    return RegistryError(
        422, 42203, f"Invalid compatibility level {level!r}; use one of {', '.join(allowed)}"
    )


def invalid_subject(subject: str) -> RegistryError:
    return RegistryError(
        422,
        42208,
        f"Invalid subject {subject[:80]!r}: use 1-255 printable characters without control codes",
    )


def incompatible(subject: str, level: str, messages: list[str]) -> RegistryError:
    return RegistryError(
        409,
        409,
        f"Schema being registered is incompatible with an earlier schema for subject "
        f"'{subject}' under {level}; details: " + "; ".join(messages),
    )


# Every `error_code` the registry answers with: its HTTP status and what it means. The
# OpenAPI schema documents them per endpoint from here (`schemas/registry/app.py`).
ERROR_CODES: dict[int, tuple[int, str]] = {
    400: (400, "The request body is not valid JSON."),
    40101: (401, "No or wrong credentials: this needs a registry user (HTTP basic auth)."),
    40301: (403, "The user's role is too low: the message names the role needed."),
    40401: (404, "Subject not found."),
    40402: (404, "Version not found for the subject."),
    40403: (404, "Schema not found (unknown id, or not registered under the subject)."),
    40404: (404, "Subject was soft deleted: delete it again with permanent=true to remove it."),
    40405: (404, "Subject was not soft deleted before a permanent delete: delete it first."),
    40407: (404, "Version was not soft deleted before a permanent delete: delete it first."),
    40408: (404, "Subject has no subject-level compatibility configured."),
    409: (409, "Schema is incompatible with an earlier schema of the subject."),
    413: (413, "Request body over the size limit."),
    422: (422, "Invalid request: a parameter or body field has the wrong type or is missing."),
    42201: (
        422,
        "Invalid schema (not Avro, unparsable, with references, or over the size, field "
        "count or nesting depth limit).",
    ),
    42202: (422, 'Invalid version: use 1 to 2^31-1 or "latest".'),
    42203: (422, "Invalid compatibility level."),
    42208: (422, "Invalid subject: use 1-255 printable characters."),
    42901: (429, "Too many failed logins for the user or from the address: see Retry-After."),
    50302: (503, "The registry database is unavailable: retry shortly."),
}
