"""The gate every request of the buyer API passes: authenticate the key, check the
purpose, run the read and append its audit row in one transaction; a refusal gets an
audit row of its own and `{"detail": ...}` with its status."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator, BaseModel
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from governance import audit
from governance.alerts import AlertNotFound
from governance.models import Purpose, Role
from governance.parties import KnownKeys, org_of_key
from governance.sharing import AgreementNotFound, SharingError
from sangsaeng.db import first_line
from serving.access import Caller, Denied, parse_purpose

API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="X-API-Key",
    description="Your organisation's API key (`sangsaeng orgs add-key ORG`).",
    auto_error=False,  # a missing key is answered, and audited, by the gate
)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("holds a NUL character: remove it")
    return value


# A string field of a request body: a NUL is refused (400) like one in the path or query.
BodyText = Annotated[str, AfterValidator(_no_nul)]


class Problem(BaseModel):
    detail: str


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Bad filter or cursor, or no X-Purpose."},
    401: {"model": Problem, "description": "Missing or unknown X-API-Key."},
    403: {"model": Problem, "description": "No agreement for this purpose, or not your role."},
    404: {"model": Problem, "description": "No such view, lot or agreement."},
}


@dataclass(frozen=True)
class Done:
    """What a read returned, for its audit row."""

    suppliers: Mapping[str, int] = field(default_factory=dict)  # rows per supplier
    rows: int = 0
    reason: str | None = None


Read = Callable[[Connection, Caller, Purpose | None], tuple[Any, Done]]


class Gate:
    """The database, the keys and the day the agreements are judged on."""

    def __init__(
        self,
        engine: Engine,
        today: Callable[[], date],
        keys: KnownKeys[tuple[str, Role]] | None = None,
    ) -> None:
        self.engine = engine
        self.today = today
        # The one cache of keys for this API's requests, `audited` and `refuse` alike. No
        # `Parties` here: each holds a key cache of its own, a second one (never used,
        # never forgotten by a revocation made through this one) waiting to be misused.
        self.keys = keys if keys is not None else KnownKeys()

    def caller_of(self, key: str | None) -> Caller | None:
        """Who `key` belongs to, through `keys`; on a miss, read on a connection of its own."""

        def lookup() -> tuple[str, Role] | None:
            with self.engine.connect() as conn:
                return org_of_key(conn, key)

        found = self.keys.get(key, lookup) if key else None
        return Caller(*found) if found else None

    def refuse(self, request: Request, status: int, reason: str, view: str | None = None) -> Any:
        """Answer `status` with `reason`, after its audit row (a refusal reads nothing)."""
        caller = self.caller_of(request.headers.get("X-API-Key"))
        audit.record(
            self.engine,
            _fitted(
                audit.Read(
                    caller.org_id if caller else None,
                    caller.role.value if caller else None,
                    request.headers.get("X-Purpose"),
                    request.method,
                    request.url.path,
                    status,
                    view,
                    _filters(request),
                    reason=reason,
                )
            ),
        )
        return JSONResponse({"detail": reason}, status_code=status)

    def audited(
        self,
        request: Request,
        key: str | None,
        purpose_header: str | None,
        read: Read,
        *,
        purpose_needed: bool = True,
        view: str | None = None,
    ) -> Any:
        """Authenticate, run `read` and append its audit row in one transaction; a
        refusal gets an audit row of its own and the error."""
        try:
            sent = [request.url.path, purpose_header or ""]
            sent += [part for pair in request.query_params.multi_items() for part in pair]
            if any("\x00" in part for part in sent):
                raise Denied(400, "the request holds a NUL character: remove it")
            with self.engine.connect() as conn, conn.begin() as transaction:
                # on a miss, looked up in the read's transaction: one connection
                found = self.keys.get(key, lambda: org_of_key(conn, key)) if key else None
                if found is None:
                    raise Denied(401, "missing or unknown X-API-Key: ask the operator for a key")
                caller = Caller(*found)
                purpose = (
                    parse_purpose(purpose_header) if purpose_needed or purpose_header else None
                )
                result, done = read(conn, caller, purpose)
                audit.append_and_commit(
                    conn,
                    transaction,
                    _fitted(
                        audit.Read(
                            caller.org_id,
                            caller.role.value,
                            purpose.value if purpose else None,
                            request.method,
                            request.url.path,
                            200,
                            view,
                            _filters(request),
                            done.suppliers,
                            done.rows,
                            done.reason,
                        )
                    ),
                )
            return result
        except Denied as exc:
            return self.refuse(request, exc.status, exc.reason, view)
        except (AgreementNotFound, AlertNotFound) as exc:
            return self.refuse(request, 404, str(exc), view)
        except SharingError as exc:
            return self.refuse(request, 400, str(exc), view)
        except DBAPIError as exc:
            # a database away or refusing: the client may retry; the trail says so
            reason = f"the platform database failed ({first_line(exc)}): try again shortly"
            try:
                return self.refuse(request, 503, reason, view)
            except DBAPIError:
                return JSONResponse({"detail": reason}, status_code=503)

    @staticmethod
    def role(caller: Caller, *roles: Role) -> None:
        if caller.role not in roles:
            names = " or ".join(r.value for r in roles)
            raise Denied(
                403, f"this endpoint is for a {names}; your key is a {caller.role.value}'s"
            )


# Audit columns that hold what the client sent: cut to fit (the request is refused or
# answered all the same; the trail keeps the start of what was sent).
_LIMITS = {"purpose": 32, "view": 64}


def _cut(value: str | None, limit: int) -> str | None:
    return value if value is None or len(value) <= limit else value[: limit - 1] + "…"


def _filters(request: Request) -> dict[str, str]:
    return {
        _cut(k, 64) or "": _cut(v, 200) or ""
        for k, v in request.query_params.items()
        if k != "cursor"
    }


def _fitted(read: audit.Read) -> audit.Read:
    clean = {
        "purpose": _cut(read.purpose, _LIMITS["purpose"]),
        "view": _cut(read.view, _LIMITS["view"]),
        "endpoint": _cut(read.endpoint, 2_000),
        "reason": _cut(read.reason, 2_000),
        "filters": read.filters,
    }
    for name in ("purpose", "view", "endpoint", "reason"):
        if clean[name] is not None:
            clean[name] = clean[name].replace("\x00", "")
    clean["filters"] = {
        k.replace("\x00", ""): v.replace("\x00", "") for k, v in (read.filters or {}).items()
    }
    return replace(read, **clean)
