"""Registry errors carrying Confluent's HTTP status and `error_code`."""

from sangsaeng.errors import PlatformError


class RegistryError(PlatformError):
    """An error the REST API answers as `{"error_code": ..., "message": ...}`."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


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
