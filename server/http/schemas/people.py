"""Login, users, agencies, file-name parsing: request and response schemas."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr, WithJsonSchema

from server.catalogue.models import ROLES
from server.http.schemas.base import Body, Reply
from server.http.schemas.types import Flag, Text
from server.people.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

Role = Literal[ROLES]  # type: ignore[valid-type]
AgencyCode = Text(64, required=True, strip=False, pattern=r"^[^\s\x00-\x1f]{1,64}$")
# The policy (length, common, not the user name) is checked by server.people.accounts with its
# own code (weak_password); the schema says what it accepts.
Password = Annotated[
    StrictStr,
    Field(max_length=MAX_PASSWORD_LENGTH),
    WithJsonSchema(
        {"type": "string", "minLength": MIN_PASSWORD_LENGTH, "maxLength": MAX_PASSWORD_LENGTH}
    ),
]


class Login(Body):
    username: Text(100, required=True, strip=False)  # type: ignore[valid-type]
    password: Text(1000, required=True, strip=False)  # type: ignore[valid-type]


class LoginReply(Reply):
    token: str
    expires_at: str = Field(description="RFC 3339 UTC")
    role: str


class Me(Reply):
    id: int
    username: str
    role: str
    agency_id: int | None
    display_name: str


class NewUser(Body):
    error_codes = {"role": "bad_role"}

    username: Text(  # type: ignore[valid-type]
        100, required=True, strip=False, pattern=r"^[^\s/\\:\x00-\x1f]{1,100}$"
    )
    password: Password
    role: Role
    agency: Text(64) = ""  # type: ignore[valid-type]
    display_name: Text(200) = ""  # type: ignore[valid-type]


class UserChange(Body):
    """Only the fields sent change; an unknown field is refused."""

    model_config = {**Body.model_config, "extra": "forbid"}
    error_codes = {"role": "bad_role"}

    active: Flag | None = Field(None, description="false disables the account at once")
    role: Role | None = None
    agency: Text(64, nullable=True) | None = Field(  # type: ignore[valid-type]
        None, description="agency code; null or empty for none"
    )
    password: Password | None = Field(None, description="a new password (reset)")
    display_name: Text(200, strip=False) | None = None  # type: ignore[valid-type]


class UserReply(Reply):
    id: int
    username: str
    role: str
    agency_id: int | None
    agency: str | None
    display_name: str
    active: bool
    created_at: str | None
    updated_at: str | None


class NewAgency(Body):
    code: AgencyCode  # type: ignore[valid-type]
    name: Text(200) = ""  # type: ignore[valid-type]


class NameToParse(Body):
    name: Text(1000, required=True, strip=False)  # type: ignore[valid-type]
