"""A small client for the registry's REST API (ours or Confluent's), with caches.

Schemas by id never change, so they are fetched once; transient failures (the
registry restarting, a 5xx) are retried a few times before a `TransientError`.
"""

from typing import Any

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from sangsaeng.errors import PlatformError, TransientError
from schemas.registry import MEDIA_TYPE

# What to do when the registry does not know the credentials sent (HTTP 401).
CREDENTIALS_HINT = (
    "send a registry user's credentials (SANGSAENG_REGISTRY_AUTH=user:password, or the state "
    "dir's registry-credentials file); if that file no longer matches the registry's database, "
    "run `sangsaeng registry reset-admin`"
)


class RegistryClientError(PlatformError):
    """The registry refused a request; carries Confluent's `error_code`. A 401 names
    the recovery (`sangsaeng registry reset-admin`)."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        hint = f"; {CREDENTIALS_HINT}" if status == 401 else ""
        super().__init__(f"schema registry: {message} (HTTP {status}, error {error_code}){hint}")
        self.status, self.error_code, self.message = status, error_code, message


class RegistryClient:
    """Talks to the schema registry at `url` as the user `auth` (user, password): role read
    for lookups, write to register."""

    def __init__(
        self, url: str, auth: tuple[str, str] | None = None, timeout_s: float = 10.0
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            auth=auth,
            timeout=timeout_s,
            headers={"Accept": f"{MEDIA_TYPE}, application/json", "Content-Type": MEDIA_TYPE},
        )
        self._by_id: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        self._http.close()

    @retry(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.2, max=2),
        reraise=True,
    )
    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        try:
            response = self._http.request(method, path, json=body, params=params or None)
        except httpx.TransportError as exc:
            raise TransientError(
                f"no schema registry answers at {self.url} ({type(exc).__name__}): start it with "
                f"`sangsaeng stack up`, or point SANGSAENG_SCHEMA_REGISTRY_URL at yours"
            ) from None
        if response.status_code >= 500:
            raise TransientError(f"schema registry at {self.url}: HTTP {response.status_code}")
        if response.status_code >= 400:
            try:
                error = response.json()
                code, message = int(error["error_code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                code, message = response.status_code, response.text[:200]
            raise RegistryClientError(response.status_code, code, message)
        return response.json()

    def register(self, subject: str, schema: str) -> tuple[int, int | None]:
        """Register `schema` under `subject`; returns (schema id, version)."""
        answer = self._call("POST", f"/subjects/{subject}/versions", {"schema": schema})
        self._ids[(subject, schema)] = answer["id"]
        return int(answer["id"]), answer.get("version")

    def lookup(self, subject: str, schema: str) -> dict[str, Any]:
        """`{"subject", "id", "version", "schema"}` of `schema` under `subject`."""
        return self._call("POST", f"/subjects/{subject}", {"schema": schema})

    def id_for(self, subject: str, schema: str, *, auto_register: bool) -> int:
        """The id of `schema` under `subject`, registering it first if asked (cached)."""
        key = (subject, schema)
        if key not in self._ids:
            if auto_register:
                self.register(subject, schema)
            else:
                self._ids[key] = int(self.lookup(subject, schema)["id"])
        return self._ids[key]

    def schema(self, schema_id: int) -> str:
        """The schema with id `schema_id` (fetched once)."""
        if schema_id not in self._by_id:
            self._by_id[schema_id] = self._call("GET", f"/schemas/ids/{schema_id}")["schema"]
        return self._by_id[schema_id]

    def subjects(self) -> list[str]:
        return self._call("GET", "/subjects")

    def latest(self, subject: str) -> dict[str, Any]:
        return self._call("GET", f"/subjects/{subject}/versions/latest")

    def level(self, subject: str | None = None) -> str:
        """The compatibility level of `subject` (falling back to global), or the global one."""
        if subject is None:
            return self._call("GET", "/config")["compatibilityLevel"]
        return self._call("GET", f"/config/{subject}", defaultToGlobal="true")["compatibilityLevel"]

    def set_level(self, level: str, subject: str | None = None) -> str:
        """Set the compatibility level of `subject` (None: the global one)."""
        path = "/config" if subject is None else f"/config/{subject}"
        return self._call("PUT", path, {"compatibility": level})["compatibility"]

    def compatibility(self, subject: str, schema: str) -> list[str]:
        """Why `schema` would be refused under `subject` (empty: accepted)."""
        answer = self._call(
            "POST",
            f"/compatibility/subjects/{subject}/versions",
            {"schema": schema},
            verbose="true",
        )
        return [] if answer["is_compatible"] else list(answer.get("messages") or ["incompatible"])
