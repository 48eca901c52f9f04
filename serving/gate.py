"""The gate every request of the buyer API passes: authenticate the key, check the
purpose, run the read and append its audit row in one transaction; a refusal gets an
audit row of its own and `{"detail": ...}` with its status."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel
from sqlalchemy.engine import Connection, Engine

from governance import audit
from governance.models import Purpose, Role
from governance.parties import Parties
from governance.sharing import SharingError
from serving.access import Caller, Denied, parse_purpose

API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="X-API-Key",
    description="Your organisation's API key (`sangsaeng orgs add-key ORG`).",
    auto_error=False,  # a missing key is answered, and audited, by the gate
)


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

    suppliers: Sequence[str] = ()
    rows: int = 0
    reason: str | None = None


Read = Callable[[Connection, Caller, Purpose | None], tuple[Any, Done]]


class Gate:
    """The database, the keys and the day the agreements are judged on."""

    def __init__(self, engine: Engine, today: Callable[[], date]) -> None:
        self.engine = engine
        self.parties = Parties(engine)
        self.today = today

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
        endpoint = request.url.path
        filters = {k: v for k, v in request.query_params.items() if k != "cursor"}
        found = self.parties.org_for_key(key)
        caller = Caller(*found) if found else None
        base = audit.Read(
            caller.org_id if caller else None,
            caller.role.value if caller else None,
            purpose_header,
            request.method,
            endpoint,
            200,
            view,
            filters,
        )
        try:
            if caller is None:
                raise Denied(401, "missing or unknown X-API-Key: ask the operator for a key")
            purpose = parse_purpose(purpose_header) if purpose_needed or purpose_header else None
            with self.engine.begin() as conn:
                result, done = read(conn, caller, purpose)
                audit.append(
                    conn,
                    audit.Read(
                        base.org_id,
                        base.role,
                        purpose.value if purpose else None,
                        base.method,
                        endpoint,
                        200,
                        view,
                        filters,
                        done.suppliers,
                        done.rows,
                        done.reason,
                    ),
                )
            return result
        except (Denied, SharingError) as exc:
            status = exc.status if isinstance(exc, Denied) else 400
            reason = exc.reason if isinstance(exc, Denied) else str(exc)
            audit.record(
                self.engine,
                audit.Read(
                    base.org_id,
                    base.role,
                    purpose_header,
                    base.method,
                    endpoint,
                    status,
                    view,
                    filters,
                    reason=reason,
                ),
            )
            return JSONResponse({"detail": reason}, status_code=status)

    @staticmethod
    def role(caller: Caller, *roles: Role) -> None:
        if caller.role not in roles:
            names = " or ".join(r.value for r in roles)
            raise Denied(
                403, f"this endpoint is for a {names}; your key is a {caller.role.value}'s"
            )
