"""Cases, links, records, approvals, complaints, stages and retention: request schemas.

The case domain (server/cases/core.py) still reads the body as a dict while it is being split;
these schemas validate it at the route first and describe it in the OpenAPI document, with the
same limits the domain keeps (so a schema-valid body is not refused for its shape)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from server.catalogue.models import CASE_STAGES, ENFORCEMENT_TYPES, PROCEDURES, SIGNATURE_STATUSES
from server.http.schemas.base import Body, Query
from server.http.schemas.bounds import MAX_SAFE_INT
from server.http.schemas.types import NOT_BLANK, SCALAR_SCHEMA, Flag, Id, IntParam, Rfc3339, Text

MAX_LIST = 50  # server.cases.core.MAX_LIST
Stage = Literal[CASE_STAGES]  # type: ignore[valid-type]
Decision = Literal["approve", "reject"]  # server.cases.core.DECISIONS
ComplaintDecision = Literal["pending", "investigate", "declined"]
# An officer by id, code or certificate number
OfficerRef = Annotated[
    Id | Annotated[str, Field(max_length=100, strict=True)],  # type: ignore[valid-type]
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                {"type": "string", "maxLength": 100},
            ]
        }
    ),
]
# Free-form typed fields of a record (keys at most 60 characters; scalar or list values).
_FIELD_VALUE = {
    "anyOf": [*SCALAR_SCHEMA["anyOf"], {"type": "array", "maxItems": 50, "items": SCALAR_SCHEMA}]
}
Fields = Annotated[
    dict[Annotated[str, Field(max_length=60)], Any],
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": 100,
            "propertyNames": {"maxLength": 60},
            "additionalProperties": _FIELD_VALUE,
        }
    ),
]
# A party: a name, or an object with a name (and other short text fields).
Party = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NOT_BLANK},
                {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "maxLength": 200, "pattern": NOT_BLANK}
                    },
                    "propertyNames": {"maxLength": 40},
                    "additionalProperties": {"type": "string", "maxLength": 300},
                },
            ]
        }
    ),
]
EvidenceId = Text(64, required=True)


def _items(kind: Any) -> Any:
    return Annotated[list[kind] | None, Field(max_length=MAX_LIST)]  # type: ignore[valid-type]


class NewCase(Body):
    error_codes = {"opened_at": "bad_time"}

    number: Text(100, required=True) = Field(  # type: ignore[valid-type]
        description="case number, unique in the agency"
    )
    title: Text(500, required=True)  # type: ignore[valid-type]
    enforcement_type: Literal[ENFORCEMENT_TYPES]  # type: ignore[valid-type]
    procedure: Literal[PROCEDURES]  # type: ignore[valid-type]
    agency: Text(64) = Field(  # type: ignore[valid-type]
        "", description="agency code (cross-agency roles only)"
    )
    parties: _items(Party) = None  # type: ignore[valid-type]
    officers: _items(RecordOfficer | OfficerRef) = Field(  # type: ignore[valid-type]
        None, description="officer ids, codes or certificate numbers"
    )
    emergency_start: Flag = False
    major: Flag = False
    disputed: Flag = False
    opened_at: Rfc3339 | None = None
    description: Text(5000) = ""  # type: ignore[valid-type]


class CaseChange(Body):
    """Only the fields sent change; other fields of a case are not editable (400)."""

    model_config = {**Body.model_config, "extra": "forbid"}

    parties: _items(Party) = None  # type: ignore[valid-type]
    officers: _items(RecordOfficer | OfficerRef) = None  # type: ignore[valid-type]
    title: Text(500, required=True) = None  # type: ignore[valid-type]
    description: Text(5000) = ""  # type: ignore[valid-type]
    disputed: Flag = False
    major: Flag = False


class NewLink(Body):
    evidence_id: EvidenceId  # type: ignore[valid-type]
    stage: Stage | None = None
    record_id: Text(32) = ""  # type: ignore[valid-type]


class RecordOfficer(Body):
    officer: OfficerRef | None = None
    name: Text(200) = ""  # type: ignore[valid-type]
    certificate_no: Text(100) = ""  # type: ignore[valid-type]
    shown: Flag = False


class NewRecord(Body):
    doc_type: Text(60, required=True) = Field(  # type: ignore[valid-type]
        description="a document type of the rule pack (GET /api/v1/rules)"
    )
    stage: Stage | None = None
    time: Rfc3339
    end_time: Rfc3339 | None = None
    title: Text(500) = ""  # type: ignore[valid-type]
    officers: _items(RecordOfficer | OfficerRef) = None  # type: ignore[valid-type]
    signature_status: Literal[SIGNATURE_STATUSES] | None = None  # type: ignore[valid-type]
    service_method: Text(60) = Field(  # type: ignore[valid-type]
        "", description="a service method of the rule pack"
    )
    execution_type: Text(60) = Field(  # type: ignore[valid-type]
        "", description="an execution type of the rule pack"
    )
    witness: Text(200) = ""  # type: ignore[valid-type]
    evidence_ids: _items(Text(64, required=True)) = None  # type: ignore[valid-type]
    fields: Fields | None = None
    supersedes: Text(32) = ""  # type: ignore[valid-type]


class Attachment(Body):
    evidence_id: EvidenceId  # type: ignore[valid-type]


class NewApproval(Body):
    """A request: nobody's decision yet (except the caller's own request as handler). Times
    are the server's; approved_at and any other client time is refused (400)."""

    kind: Text(60, required=True) = Field(  # type: ignore[valid-type]
        description="initiation, legal_review, decision, execution, ... (the rule pack's)"
    )
    handler_id: Id | None = Field(None, description="default: the caller")
    reviewer_id: Id
    approver_id: Id
    reason: Text(5000) = ""  # type: ignore[valid-type]
    party: Text(5000) = ""  # type: ignore[valid-type]
    handler_opinion: Text(5000) = ""  # type: ignore[valid-type]
    unit_opinion: Text(5000) = ""  # type: ignore[valid-type]
    legal_basis: Text(5000) = ""  # type: ignore[valid-type]
    legal_review_opinion: Text(5000) = ""  # type: ignore[valid-type]
    fields: Fields | None = None


class ApprovalDecision(Body):
    decision: Decision
    opinion: Text(5000) = ""  # type: ignore[valid-type]


class NewComplaint(Body):
    received_at: Rfc3339 | None = None
    channel: Text(40) = ""  # type: ignore[valid-type]
    complainant: Text(200) = ""  # type: ignore[valid-type]
    named: Flag | None = None
    contact: Text(200) = ""  # type: ignore[valid-type]
    content: Text(10000) = ""  # type: ignore[valid-type]
    decision: ComplaintDecision | None = None
    decision_reason: Text(5000) = ""  # type: ignore[valid-type]


class StageMove(Body):
    error_codes = {"stage": "bad_field"}

    stage: Stage


# -- retention -------------------------------------------------------------------------------
class LegalHold(Body):
    hold: Flag = Field(True, description="true places a hold, false releases it")
    reason: Text(2000, nullable=True) = ""  # type: ignore[valid-type]


class DisposalRequest(Body):
    reason: Text(2000) = ""  # type: ignore[valid-type]


class DisposalApproval(Body):
    note: Text(2000) = ""  # type: ignore[valid-type]


class CaseListQuery(Query):
    error_codes = {"limit": "bad_request"}

    q: str | None = Field(None, description="text in the case number, title, parties or officers")
    enforcement_type: Literal[ENFORCEMENT_TYPES] | None = None  # type: ignore[valid-type]
    status: Literal["open", "archived"] | None = None
    stage: Stage | None = Field(None, description="current stage")
    agency: str | None = Field(None, description="agency code")
    from_: Rfc3339 | None = Field(None, alias="from", description="opened at or after")
    to: Rfc3339 | None = Field(None, description="opened before")
    cursor: str | None = Field(None, description="from the previous page's next")
    limit: IntParam(-MAX_SAFE_INT) = Field(  # type: ignore[valid-type]
        50, description="page size, at most 200"
    )


class ApprovalsQuery(Query):
    error_codes = {"pending": "bad_field"}

    pending: Literal["me"] | None = Field(
        None, description="me: those waiting for the caller's decision"
    )
    case: str | None = Field(None, description="a case id or number (all its approvals)")


class DisposalsQuery(Query):
    state: str | None = Field(None, description="pending or approved")
