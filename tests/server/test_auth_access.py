"""Login, tokens, and the role x route matrix (401 without a token, 403 for a wrong role)."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import pytest_asyncio

from helpers import PASSWORD, app_db, app_store, bearer
from server.catalogue.models import EvidenceItem, Rendition, StoredObject
from server.custody.ledger import append

ALL_ROLES = ["station", "officer", "reviewer", "legal", "supervisor", "auditor", "admin"]
READ_CASE_ROLES = {"officer", "reviewer", "legal", "supervisor", "admin"}
WRITE_CASE_ROLES = {"officer", "reviewer", "legal", "admin"}
REGISTRY_READ = {"reviewer", "legal", "supervisor", "admin"}

# (method, path template, body, roles allowed). `{item}` is an evidence item of agency A1.
# Every /api/v1 route must be listed here: test_matrix_covers_every_route fails otherwise.
ROUTE_MATRIX: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("GET", "/api/v1/auth/me", None, set(ALL_ROLES)),
    ("GET", "/api/v1/users", None, {"admin"}),
    (
        "POST",
        "/api/v1/users",
        {"username": "new-{role}", "password": PASSWORD, "role": "auditor"},
        {"admin"},
    ),
    # Account administration (issue 12): `{user}` is officer2's id; a display name does not
    # revoke tokens, so the other calls keep working.
    ("PATCH", "/api/v1/users/{user}", {"display_name": "{role}"}, {"admin"}),
    ("GET", "/api/v1/agencies", None, {"admin"}),
    ("POST", "/api/v1/agencies", {"code": "AG-{role}", "name": "{role}"}, {"admin"}),
    ("GET", "/api/v1/evidence", None, {"officer", "reviewer", "legal", "supervisor", "admin"}),
    (
        "GET",
        "/api/v1/evidence/{item}",
        None,
        {"officer", "reviewer", "legal", "supervisor", "admin"},
    ),
    (
        "GET",
        "/api/v1/evidence/{item}/original",
        None,
        {"officer", "reviewer", "legal", "supervisor", "admin"},
    ),
    # Playback renditions (the item fixture gives the item one of each) and media jobs.
    ("GET", "/api/v1/evidence/{item}/hls/index.m3u8", None, READ_CASE_ROLES),
    ("GET", "/api/v1/evidence/{item}/hls/seg-00000.m4s", None, READ_CASE_ROLES),
    ("GET", "/api/v1/evidence/{item}/thumbnails.vtt", None, READ_CASE_ROLES),
    ("GET", "/api/v1/evidence/{item}/sprite-000.jpg", None, READ_CASE_ROLES),
    ("GET", "/api/v1/evidence/{item}/waveform.json", None, READ_CASE_ROLES),
    ("GET", "/api/v1/evidence/{item}/preview.jpg", None, READ_CASE_ROLES),
    ("GET", "/api/v1/evidence/{item}/thumb.jpg", None, READ_CASE_ROLES),
    ("GET", "/api/v1/evidence/{item}/subtitles.vtt", None, READ_CASE_ROLES),
    ("GET", "/api/v1/evidence/{item}/gps.json", None, READ_CASE_ROLES),
    ("GET", "/api/v1/evidence/{item}/jobs", None, READ_CASE_ROLES),
    ("POST", "/api/v1/evidence/{item}/process", None, {"reviewer", "legal", "admin"}),
    # Bookmarks and the export basket (player): `{case}` is a case of agency A1.
    (
        "GET",
        "/api/v1/evidence/{item}/bookmarks",
        None,
        {"officer", "reviewer", "legal", "supervisor", "admin"},
    ),
    (
        "POST",
        "/api/v1/evidence/{item}/bookmarks",
        {"time_s": 1.5, "note": "{role}"},
        {"officer", "reviewer", "legal", "admin"},
    ),
    (
        "GET",
        "/api/v1/cases/{case}/basket",
        None,
        {"officer", "reviewer", "legal", "supervisor", "admin"},
    ),
    (
        "POST",
        "/api/v1/cases/{case}/basket",
        {"evidence_id": "{item}", "in_s": 0, "out_s": 1, "name": "{role}"},
        {"reviewer", "legal", "admin"},
    ),
    # Custody ledger: `{seq}` is entry 1 (the item's ingest); a query string is part of the call only.
    ("GET", "/api/v1/ledger", None, {"supervisor", "auditor", "admin"}),
    ("GET", "/api/v1/ledger/{seq}/proof", None, {"supervisor", "auditor", "admin"}),
    (
        "GET",
        "/api/v1/ledger/consistency?first=0&second=1",
        None,
        {"supervisor", "auditor", "admin"},
    ),
    ("GET", "/api/v1/ledger/tree-heads", None, {"supervisor", "auditor", "admin"}),
    ("POST", "/api/v1/ledger/tree-heads", None, {"auditor", "admin"}),
    # Cases (issue 6). Per-role placeholders are made fresh for every call: `{link}` a link of
    # `{case}`, `{old_item}` an A1 item past its retention, `{dreq}` a pending disposal request
    # (asked by the officer); `{uid:NAME}` in a body is that user's id.
    ("GET", "/api/v1/rules", None, READ_CASE_ROLES),
    # Approvals as acts of the approver: `{approval-for-ROLE}` is a fresh request of an A1 case
    # waiting for that role's user (named as reviewer); `{record}` a fresh record of a fresh A1
    # case `{recase}`.
    ("GET", "/api/v1/approvals?pending=me", None, READ_CASE_ROLES),
    (
        "POST",
        "/api/v1/approvals/{approval-for-{role}}/decision",
        {"decision": "approve", "opinion": "{role}"},
        WRITE_CASE_ROLES,
    ),
    ("GET", "/api/v1/cases/{case}/people", None, READ_CASE_ROLES),
    ("PATCH", "/api/v1/cases/{case}", {"title": "{role}"}, WRITE_CASE_ROLES),
    (
        "POST",
        "/api/v1/cases/{recase}/records/{record}/attachments",
        {"evidence_id": "{item}"},
        WRITE_CASE_ROLES,
    ),
    ("GET", "/api/v1/cases", None, READ_CASE_ROLES),
    (
        "POST",
        "/api/v1/cases",
        {
            "number": "M-{role}",
            "title": "t",
            "enforcement_type": "inspection",
            "procedure": "general",
            "agency": "A1",
        },
        WRITE_CASE_ROLES,
    ),
    ("GET", "/api/v1/cases/{case}", None, READ_CASE_ROLES),
    (
        "POST",
        "/api/v1/cases/{case}/links",
        {"evidence_id": "{item}", "stage": "investigation"},
        WRITE_CASE_ROLES,
    ),
    ("DELETE", "/api/v1/cases/{case}/links/{link}", None, WRITE_CASE_ROLES),
    (
        "POST",
        "/api/v1/cases/{case}/records",
        {"doc_type": "acceptance_notice", "title": "{role}", "time": "2026-03-02T01:00:00Z"},
        WRITE_CASE_ROLES,
    ),
    (
        "POST",
        "/api/v1/cases/{case}/approvals",
        {
            "kind": "initiation",
            "handler_id": "{uid:officer}",
            "reviewer_id": "{uid:reviewer}",
            "approver_id": "{uid:legal}",
        },
        WRITE_CASE_ROLES,
    ),
    (
        "POST",
        "/api/v1/cases/{case}/approvals?legal_review",
        {
            "kind": "legal_review",
            "handler_id": "{uid:officer}",
            "reviewer_id": "{uid:legal}",
            "approver_id": "{uid:reviewer}",
        },
        {"legal", "admin"},
    ),
    (
        "POST",
        "/api/v1/cases/{case}/complaints",
        {"complainant": "{role}", "decision": "investigate"},
        WRITE_CASE_ROLES,
    ),
    ("POST", "/api/v1/cases/{case}/stage", {"stage": "investigation"}, WRITE_CASE_ROLES),
    ("GET", "/api/v1/cases/{case}/compliance", None, READ_CASE_ROLES),
    ("GET", "/api/v1/cases/{case}/proposals", None, READ_CASE_ROLES),
    ("GET", "/api/v1/supervision", None, {"supervisor", "legal", "admin"}),
    ("GET", "/api/v1/supervision?format=csv", None, {"supervisor", "legal", "admin"}),
    ("GET", "/api/v1/supervision?format=xlsx", None, {"supervisor", "legal", "admin"}),
    (
        "POST",
        "/api/v1/spot-checks?{archived}",
        {"agency": "A1", "size": 1},
        {"supervisor", "admin"},
    ),
    ("GET", "/api/v1/spot-checks", None, {"supervisor", "legal", "admin"}),
    ("GET", "/api/v1/spot-checks/{spot}", None, {"supervisor", "legal", "admin"}),
    (
        "POST",
        "/api/v1/spot-checks/{spot}/cases/{spotcase}/score",
        {"problems": []},
        {"supervisor", "admin"},
    ),
    (
        "POST",
        "/api/v1/spot-checks/{spot}/orders",
        {"deadline": "2099-01-01T00:00:00Z", "requirement": "{role}"},
        {"supervisor", "admin"},
    ),
    ("GET", "/api/v1/rectification-orders", None, {"supervisor", "legal", "admin"}),
    (
        "POST",
        "/api/v1/rectification-orders/{order}/response",
        {"response": "{role}"},
        {"legal", "admin"},
    ),
    ("GET", "/api/v1/evidence/{item}/retention", None, READ_CASE_ROLES),
    (
        "POST",
        "/api/v1/evidence/{item}/legal-hold",
        {"hold": True, "reason": "{role}"},
        {"reviewer", "legal", "admin"},
    ),
    (
        "POST",
        "/api/v1/evidence/{old_item}/disposal-requests",
        {"reason": "{role}"},
        {"reviewer", "legal", "admin"},
    ),
    ("GET", "/api/v1/disposal-requests", None, {"reviewer", "legal", "admin"}),
    (
        "POST",
        "/api/v1/disposal-requests/{dreq}/approve",
        {"note": "{role}"},
        {"reviewer", "legal", "admin"},
    ),
    # Sealed exports: `{xcase}` is an A1 case with a linked item, `{export}` a finished export.
    (
        "POST",
        "/api/v1/cases/{xcase}/exports",
        {"recipient": "{role}", "purpose": "matrix"},
        {"reviewer", "legal", "admin"},
    ),
    ("GET", "/api/v1/cases/{case}/exports", None, {"reviewer", "legal", "admin"}),
    ("GET", "/api/v1/exports/{export}", None, {"reviewer", "legal", "admin"}),
    ("GET", "/api/v1/exports/{export}/package", None, {"reviewer", "legal", "admin"}),
    # The registry (issue 16): admins write, reviewers/legal/supervisors read, anyone who writes
    # cases may pick officers, stations report heartbeats. `{officer}`, `{device}`, `{station}`
    # are fresh A1 rows; officer MATRIX-OFF exists.
    ("GET", "/api/v1/officers", None, READ_CASE_ROLES),
    ("POST", "/api/v1/officers", {"code": "OF-{role}", "name": "n", "agency": "A1"}, {"admin"}),
    ("GET", "/api/v1/officers/{officer}", None, REGISTRY_READ),
    ("PATCH", "/api/v1/officers/{officer}", {"unit": "{role}"}, {"admin"}),
    ("GET", "/api/v1/officers/{officer}/footage", None, REGISTRY_READ),
    ("GET", "/api/v1/devices", None, REGISTRY_READ),
    ("POST", "/api/v1/devices", {"serial": "DV-{role}", "agency": "A1"}, {"admin"}),
    ("GET", "/api/v1/devices/unknown", None, REGISTRY_READ),
    ("GET", "/api/v1/devices/flagged", None, REGISTRY_READ),
    ("GET", "/api/v1/devices/{device}", None, REGISTRY_READ),
    ("PATCH", "/api/v1/devices/{device}", {"model": "{role}"}, {"admin"}),
    (
        "POST",
        "/api/v1/devices/{device}/assignments",
        {"officer": "MATRIX-OFF", "from": "2020-01-01T00:00:00Z"},
        {"admin"},
    ),
    ("POST", "/api/v1/devices/{device}/reattribute", None, {"admin"}),
    (
        "POST",
        "/api/v1/registry/import?kind=officers&agency=A1&dry_run=1",
        {"rows": [{"code": "IM-{role}", "name": "n"}]},
        {"admin"},
    ),
    ("GET", "/api/v1/stations", None, REGISTRY_READ),
    ("POST", "/api/v1/stations", {"code": "ST-{role}", "agency": "A1"}, {"admin"}),
    (
        "POST",
        "/api/v1/stations/heartbeat",
        {"station_id": "HB-{role}", "files_waiting": 0, "bytes_waiting": 0},
        {"station", "admin"},
    ),
    ("GET", "/api/v1/stations/{station}", None, REGISTRY_READ),
    # Custody history (issue 11): whoever may read the item or case, and the auditors.
    # `{cledger}` is an A1 case with one ledger entry of its own, `{cseq}` that entry.
    ("GET", "/api/v1/evidence/{item}/custody", None, READ_CASE_ROLES | {"auditor"}),
    ("GET", "/api/v1/evidence/{item}/custody/{seq}/proof", None, READ_CASE_ROLES | {"auditor"}),
    ("GET", "/api/v1/cases/{case}/custody", None, READ_CASE_ROLES | {"auditor"}),
    ("GET", "/api/v1/cases/{cledger}/custody/{cseq}/proof", None, READ_CASE_ROLES | {"auditor"}),
    # Browser uploads read file names by the station agent's rules.
    (
        "POST",
        "/api/v1/naming/parse",
        {"name": "DSJ001_P1_20240305143000.mp4"},
        {"station", "officer", "reviewer", "legal", "admin"},
    ),
]
# tus routes need protocol headers and are scoped to the uploader: test_every_role_on_tus covers
# each of them for every role below.
TUS_ROUTES = {
    ("POST", "/api/v1/uploads/"),
    ("HEAD", "/api/v1/uploads/{id}"),
    ("PATCH", "/api/v1/uploads/{id}"),
    ("DELETE", "/api/v1/uploads/{id}"),
    ("GET", "/api/v1/uploads/{id}"),
    ("GET", "/api/v1/uploads"),
    ("OPTIONS", "/api/v1/uploads/"),
}
PUBLIC = {("GET", "/api/v1/openapi.json"), ("POST", "/api/v1/auth/login"), ("GET", "/api/v1/keys")}


@pytest.fixture
async def item(client, users, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """An evidence item of agency A1 with its bytes in the store."""
    return await _make_item(client, tmp_path)


@dataclass
class Matrix:
    client: Any
    users: dict[str, str]
    item: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Matrix]:
    """One app, its users and an item for the whole role x route matrix: every parameter makes
    the fresh objects its URL names (`_fresh`), so they need no app, catalogue and users each.
    Media jobs queued by the matrix stay queued (no worker), so the item keeps its renditions."""
    from aiohttp.test_utils import TestClient, TestServer

    from helpers import role_users
    from server.http.app import create_app
    from server.settings import load_settings

    folder = tmp_path_factory.mktemp("matrix")
    settings = load_settings(
        None,
        env={},
        overrides={
            "data_dir": str(folder / "data"),
            "jwt_secret": "test-secret-" + "x" * 32,
            "store_min_free_bytes": 0,
            "worker_in_server": False,
        },
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        users = await role_users(client)
        yield Matrix(client, users, await _make_item(client, folder))
    finally:
        await client.close()


async def _make_item(client, folder) -> str:  # type: ignore[no-untyped-def]
    data = b"footage bytes " * 1000
    key = hashlib.sha256(data).hexdigest()
    src = folder / "clip.mp4"
    src.write_bytes(data)
    app_store(client).put_file(src, key)

    def add(s):  # type: ignore[no-untyped-def]
        from sqlalchemy import select

        from server.catalogue.models import Agency

        a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
        s.add(StoredObject(sha256=key, size=len(data), role="original"))
        s.flush()
        it = EvidenceItem(
            sha256=key,
            size=len(data),
            kind="video",
            original_filename="DSJ 01_王.mp4",
            agency_id=a1.id,
        )
        s.add(it)
        s.flush()
        append(
            s, actor="system", action="ingest", subject=f"evidence:{it.id}", details={"sha256": key}
        )
        for name in (
            "hls/index.m3u8",
            "hls/seg-00000.m4s",
            "trickplay/thumbnails.vtt",
            "trickplay/sprite-000.jpg",
            "waveform.json",
            "preview.jpg",
            "thumb.jpg",
            "subtitles.vtt",
            "gps.json",
        ):
            s.add(
                Rendition(
                    item_id=it.id,
                    name=name,
                    role="rendition",
                    sha256=key,
                    size=len(data),
                    content_type="application/octet-stream",
                )
            )
        return it.id

    return await app_db(client).run(add)


async def _case_of_a1(client) -> str:  # type: ignore[no-untyped-def]
    """A case of agency A1 (for `{case}` in the matrix), made directly in the catalogue."""

    def add(s):  # type: ignore[no-untyped-def]
        from sqlalchemy import select

        from server.catalogue.models import Agency, Case

        a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
        case = Case(
            agency_id=a1.id,
            number=f"A1-{uuid.uuid4().hex[:8]}",
            title="matrix case",
            enforcement_type="penalty",
            procedure="general",
        )
        s.add(case)
        s.flush()
        return case.id

    return str(await app_db(client).run(add))


async def _user_ids(client, body: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Replace "{uid:NAME}" values by that user's id."""
    from sqlalchemy import select

    from server.catalogue.models import User

    ids = dict(await app_db(client).run(lambda s: list(s.execute(select(User.username, User.id)))))
    return {
        k: ids[v[5:-1]] if isinstance(v, str) and v.startswith("{uid:") else v
        for k, v in body.items()
    }


async def _fresh(client, url: str) -> str:  # type: ignore[no-untyped-def]
    """Make the per-call resources a URL names: {link}, {old_item}, {dreq} (see ROUTE_MATRIX)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from server.catalogue.models import Agency, CaseLink, DisposalRequest, User

    def old_item(s):  # type: ignore[no-untyped-def]
        data = f"old footage {datetime.now(UTC).isoformat()} {id(s)}".encode()
        key = hashlib.sha256(data).hexdigest()
        a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
        s.add(StoredObject(sha256=key, size=len(data), role="original"))
        s.flush()
        long_ago = datetime.now(UTC) - timedelta(days=400)
        it = EvidenceItem(
            sha256=key,
            size=len(data),
            kind="video",
            original_filename="old.mp4",
            agency_id=a1.id,
            received_at=long_ago,
            retention_until=long_ago + timedelta(days=183),
        )
        s.add(it)
        s.flush()
        return it.id

    def make(s):  # type: ignore[no-untyped-def]
        out = url
        if "{link}" in out:
            case_id = out.split("/api/v1/cases/")[1].split("/")[0]
            link = CaseLink(case_id=case_id, item_id=old_item(s), stage="investigation")
            s.add(link)
            s.flush()
            out = out.replace("{link}", link.id)
        if "{old_item}" in out:
            out = out.replace("{old_item}", old_item(s))
        if "{xcase}" in out or "{export}" in out:
            import tempfile
            import uuid

            from server.catalogue.models import Case, Export

            a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
            case = Case(
                agency_id=a1.id,
                number=f"X-{uuid.uuid4().hex[:8]}",
                title="export matrix",
                enforcement_type="penalty",
                procedure="general",
            )
            s.add(case)
            s.flush()
            s.add(CaseLink(case_id=case.id, item_id=old_item(s), stage="investigation"))
            out = out.replace("{xcase}", case.id)
            if "{export}" in out:
                with tempfile.NamedTemporaryFile(suffix=".zip", delete=False) as f:
                    f.write(b"PK\x05\x06" + bytes(18))  # an empty ZIP
                export = Export(
                    case_id=case.id,
                    agency_id=a1.id,
                    recipient="matrix",
                    purpose="matrix",
                    state="done",
                    package_path=f.name,
                    package_sha256="0" * 64,
                    package_size=22,
                )
                s.add(export)
                s.flush()
                out = out.replace("{export}", export.id)
        if any(p in out for p in ("{officer}", "{device}", "{station}")):
            import uuid

            from server.catalogue.models import Device, Officer, Station

            a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
            if s.scalar(select(Officer).where(Officer.code == "MATRIX-OFF")) is None:
                s.add(Officer(agency_id=a1.id, code="MATRIX-OFF", name="m"))
            tag = uuid.uuid4().hex[:8]
            officer = Officer(agency_id=a1.id, code=f"O-{tag}", name="o")
            device = Device(agency_id=a1.id, serial=f"D-{tag}")
            station = Station(code=f"S-{tag}", agency_id=a1.id)
            s.add_all([officer, device, station])
            s.flush()
            out = (
                out.replace("{officer}", officer.code)
                .replace("{device}", device.serial)
                .replace("{station}", station.code)
            )
        if any(p in out for p in ("{archived}", "{spot}", "{order}")):
            import uuid

            from server.catalogue.models import Case, RectificationOrder, SpotCheck, SpotCheckCase

            a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
            case = Case(
                agency_id=a1.id,
                number=f"SP-{uuid.uuid4().hex[:8]}",
                title="spot matrix",
                enforcement_type="penalty",
                procedure="simple",
                status="archived",
                stage="archiving",
                archived_at=datetime.now(UTC),
            )
            s.add(case)
            s.flush()
            out = out.replace("{archived}", case.id)
            if "{spot}" in out or "{order}" in out:
                spot = SpotCheck(
                    agency_id=a1.id,
                    seed="matrix",
                    sample_size=1,
                    population=1,
                    population_sha256="0" * 64,
                    checklist=[],
                )
                s.add(spot)
                s.flush()
                s.add(
                    SpotCheckCase(
                        spot_check_id=spot.id,
                        case_id=case.id,
                        position=0,
                        problems=[{"item": None, "article": 13, "note": "matrix"}],
                    )
                )
                out = out.replace("{spot}", spot.id).replace("{spotcase}", case.id)
                if "{order}" in out:
                    order = RectificationOrder(
                        spot_check_id=spot.id,
                        agency_id=a1.id,
                        requirement="matrix",
                        deadline=datetime.now(UTC) + timedelta(days=9),
                    )
                    s.add(order)
                    s.flush()
                    out = out.replace("{order}", order.id)
        if "{cledger}" in out:
            from server.catalogue.models import Case

            a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
            case = Case(
                agency_id=a1.id,
                number=f"L-{datetime.now(UTC).timestamp()}",
                title="custody",
                enforcement_type="penalty",
                procedure="general",
            )
            s.add(case)
            s.flush()
            entry = append(
                s,
                actor="system",
                action="case_change",
                subject=f"case:{case.id}",
                details={"event": "opened"},
            )
            out = out.replace("{cledger}", case.id).replace("{cseq}", str(entry.seq))
        if "{dreq}" in out:
            officer = s.scalar(select(User).where(User.username == "officer"))
            req = DisposalRequest(item_id=old_item(s), reason="matrix", requested_by=officer.id)
            s.add(req)
            s.flush()
            out = out.replace("{dreq}", req.id)
        return out

    import re

    wanted = re.search(r"\{approval-for-(\{role\}|\w+)\}", url)
    if wanted or "{record}" in url:
        from server.catalogue.models import Case, CaseApproval, CaseRecord

        def approval_or_record(s):  # type: ignore[no-untyped-def]
            out = url
            if "{record}" in out:
                a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
                case = Case(
                    agency_id=a1.id,
                    number=f"R-{datetime.now(UTC).timestamp()}",
                    title="record matrix",
                    enforcement_type="penalty",
                    procedure="general",
                )
                s.add(case)
                s.flush()
                rec = CaseRecord(
                    case_id=case.id,
                    stage="initiation",
                    doc_type="acceptance_notice",
                    at=datetime.now(UTC),
                )
                s.add(rec)
                s.flush()
                out = out.replace("{record}", rec.id).replace("{recase}", case.id)
            if wanted:
                role = "officer" if wanted.group(1) == "{role}" else wanted.group(1)
                uid = {n: i for n, i in s.execute(select(User.username, User.id))}
                a1 = s.scalar(select(Agency).where(Agency.code == "A1"))
                case = Case(
                    agency_id=a1.id,
                    number=f"AP-{role}-{datetime.now(UTC).timestamp()}",
                    title="approval matrix",
                    enforcement_type="penalty",
                    procedure="general",
                )
                s.add(case)
                s.flush()
                others = [u for u in ("officer", "reviewer", "legal") if u != role][:2]
                a = CaseApproval(
                    case_id=case.id,
                    kind="initiation",
                    stage="initiation",
                    handler_id=uid[others[0]],
                    reviewer_id=uid[role],
                    approver_id=uid[others[1]],
                    fields={},
                    status="pending",
                    decisions=[
                        {"role": "handler", "user_id": uid[others[0]], "decision": "request"}
                    ],
                )
                s.add(a)
                s.flush()
                out = out.replace(wanted.group(0), a.id)
            return out

        url = str(await app_db(client).run(approval_or_record))
    if not any(
        p in url
        for p in (
            "{link}",
            "{old_item}",
            "{dreq}",
            "{xcase}",
            "{export}",
            "{officer}",
            "{device}",
            "{station}",
            "{archived}",
            "{spot}",
            "{order}",
            "{cledger}",
        )
    ):
        return url
    return str(await app_db(client).run(make))


def test_matrix_covers_every_route(client) -> None:  # type: ignore[no-untyped-def]
    from server.http.openapi import api_routes

    listed = {(m, p) for m, p, _, _ in ROUTE_MATRIX} | PUBLIC | TUS_ROUTES
    listed = {
        (
            m,
            p.split("?")[0]
            .replace("{item}", "{id}")
            .replace("{case}", "{id}")
            .replace("{old_item}", "{id}")
            .replace("{dreq}", "{id}")
            .replace("{link}", "{link_id}")
            .replace("{xcase}", "{id}")
            .replace("{export}", "{id}")
            .replace("{approval-for-{role}}", "{id}")
            .replace("{record}", "{record_id}")
            .replace("{recase}", "{id}")
            .replace("{officer}", "{id}")
            .replace("{device}", "{id}")
            .replace("{station}", "{id}")
            .replace("{spot}", "{id}")
            .replace("{spotcase}", "{case}")
            .replace("{order}", "{id}")
            .replace("{xcase}", "{id}")
            .replace("{export}", "{id}")
            .replace("{user}", "{id}")
            .replace("{cledger}", "{id}")
            .replace("{cseq}", "{seq}")
            .replace("/hls/seg-00000.m4s", "/hls/{name}")
            .replace("/sprite-000.jpg", "/{sheet}"),
        )
        for m, p in listed
    }
    missing = {(m, p) for m, p, _ in api_routes(client.server.app)} - listed
    assert not missing, f"routes without a role test: {sorted(missing)}"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"),
    ROUTE_MATRIX,
    ids=[f"{m} {p}" for m, p, _, _ in ROUTE_MATRIX],
)
async def test_every_role_on_every_route(matrix: Matrix, method, path, body, allowed) -> None:  # type: ignore[no-untyped-def]
    client, users, item = matrix.client, matrix.users, matrix.item
    url = path.replace("{item}", item).replace("{seq}", "1")
    if "{case}" in url:
        url = url.replace("{case}", await _case_of_a1(client))
    if "{user}" in url:
        url = url.replace("{user}", str((await _user_ids(client, {"u": "{uid:officer2}"}))["u"]))
    if body:
        body = {k: v.replace("{item}", item) if isinstance(v, str) else v for k, v in body.items()}
        body = await _user_ids(client, body)
    template = url
    url = await _fresh(client, template)
    r = await client.request(method, url, json=body)
    assert r.status == 401, f"{method} {url} without a token"
    assert (await r.json())["code"] == "unauthorized"
    for role in ALL_ROLES:
        url = await _fresh(client, template.replace("{role}", role))
        payload = {
            k: v.replace("{role}", role) if isinstance(v, str) else v
            for k, v in (body or {}).items()
        }
        r = await client.request(
            method, url, json=payload if body else None, headers=bearer(users[role])
        )
        if role in allowed:
            assert r.status in (200, 201, 202), (
                f"{role}: {method} {url} -> {r.status} {await r.text()}"
            )
        else:
            assert r.status == 403, f"{role}: {method} {url} -> {r.status}"
            assert (await r.json())["code"] == "forbidden"


async def test_every_role_on_tus(client, users) -> None:  # type: ignore[no-untyped-def]
    """Uploaders (station, officer, reviewer, legal, admin) create, send, read and end their own uploads; other
    roles get 403; nobody sees another user's upload (404); no token gets 401."""
    import base64

    tus = {"Tus-Resumable": "1.0.0"}
    # An account of no agency (admin) names the footage's agency; others may name their own.
    meta = (
        "filename "
        + base64.b64encode(b"a.bin").decode()
        + ",agency "
        + base64.b64encode(b"A1").decode()
    )
    assert (await client.options("/api/v1/uploads/")).status in (200, 204)
    r = await client.post(
        "/api/v1/uploads/", headers={**tus, "Upload-Length": "4", "Upload-Metadata": meta}
    )
    assert r.status == 401
    uploaders = {"station", "officer", "reviewer", "legal", "admin"}
    for role in ALL_ROLES:
        h = {**tus, **bearer(users[role])}
        r = await client.post(
            "/api/v1/uploads/", headers={**h, "Upload-Length": "4", "Upload-Metadata": meta}
        )
        if role not in uploaders:
            assert r.status == 403, role
            assert (await client.get("/api/v1/uploads", headers=h)).status == 403, role
            continue
        assert r.status == 201, (role, await r.text())
        url = r.headers["Location"]
        url = url if url.startswith("/") else f"/api/v1/uploads/{url.rsplit('/', 1)[-1]}"
        other = {**tus, **bearer(users["officer2"])}  # another uploader, another agency
        for method in ("HEAD", "GET", "PATCH", "DELETE"):
            r2 = await client.request(
                method,
                url,
                headers={
                    **other,
                    "Upload-Offset": "0",
                    "Content-Type": "application/offset+octet-stream",
                },
                data=b"ab" if method == "PATCH" else None,
            )
            assert r2.status == 404, (role, method, r2.status)
        assert (await client.head(url, headers=h)).status == 200
        assert (await client.get(url, headers=h)).status == 200
        r2 = await client.patch(
            url,
            data=b"ab",
            headers={**h, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        )
        assert r2.status == 204, (role, await r2.text())
        assert (await client.get("/api/v1/uploads", headers=h)).status == 200
        assert (await client.delete(url, headers=h)).status == 204
        for method in ("HEAD", "GET", "PATCH", "DELETE"):
            assert (await client.request(method, url)).status == 401


async def test_other_agency_cannot_see_item(client, users, item) -> None:  # type: ignore[no-untyped-def]
    # Another agency's item answers exactly like a missing one (issue 12 hole 6): 404, no owner.
    missing = await client.get("/api/v1/evidence/" + "0" * 32, headers=bearer(users["officer2"]))
    for url in (f"/api/v1/evidence/{item}", f"/api/v1/evidence/{item}/original"):
        r = await client.get(url, headers=bearer(users["officer2"]))
        assert r.status == 404
        body = await r.json()
        assert body["code"] == "not_found" and "agency" not in body["error"]
        assert body["error"].replace(item, "X") == (await missing.json())["error"].replace(
            "0" * 32, "X"
        )
    r = await client.get("/api/v1/evidence", headers=bearer(users["officer2"]))
    assert (await r.json())["items"] == []
    r = await client.get("/api/v1/evidence", headers=bearer(users["officer"]))
    assert [i["id"] for i in (await r.json())["items"]] == [item]


async def test_original_bytes_and_ranges(client, users, item) -> None:  # type: ignore[no-untyped-def]
    h = bearer(users["reviewer"])
    r = await client.get(f"/api/v1/evidence/{item}/original", headers=h)
    body = await r.read()
    assert r.status == 200 and body == b"footage bytes " * 1000
    assert "filename*=UTF-8''DSJ%2001_%E7%8E%8B.mp4" in r.headers["Content-Disposition"]
    r = await client.get(f"/api/v1/evidence/{item}/original", headers={**h, "Range": "bytes=14-27"})
    assert r.status == 206 and await r.read() == b"footage bytes "
    assert r.headers["Content-Range"] == "bytes 14-27/14000"
    r = await client.get(f"/api/v1/evidence/{item}/original", headers={**h, "Range": "bytes=-5"})
    assert await r.read() == b"ytes "
    r = await client.get(
        f"/api/v1/evidence/{item}/original", headers={**h, "Range": "bytes=99999-"}
    )
    assert r.status == 416
    r = await client.get("/api/v1/evidence/doesnotexist", headers=h)
    assert r.status == 404 and (await r.json())["code"] == "not_found"


async def test_login_success_and_wrong_password(client, users) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/v1/auth/login", json={"username": "reviewer", "password": PASSWORD})
    data = await r.json()
    assert r.status == 200 and data["expires_at"].endswith("Z") and data["token"].count(".") == 2
    r = await client.post("/api/v1/auth/login", json={"username": "reviewer", "password": "nope"})
    assert r.status == 401 and (await r.json()) == {
        "error": "wrong username or password",
        "code": "bad_credentials",
        "message": "用户名或密码错误",
    }
    r = await client.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope"})
    assert r.status == 401
    r = await client.post("/api/v1/auth/login", data=b"{not json")
    assert r.status == 400 and (await r.json())["code"] == "bad_json"


async def test_failed_logins_are_rate_limited(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(login_max_failures=3)
    from server.people.accounts import add_agency, add_user

    await app_db(client).run(
        lambda s: (add_agency(s, "A1", "a"), add_user(s, "u1", PASSWORD, "reviewer", "A1"))
    )
    for _ in range(3):
        r = await client.post("/api/v1/auth/login", json={"username": "u1", "password": "guess"})
        assert r.status == 401
    r = await client.post("/api/v1/auth/login", json={"username": "u1", "password": PASSWORD})
    assert r.status == 429 and (await r.json())["code"] == "login_locked"


def _forge(client, **changes: Any) -> str:  # type: ignore[no-untyped-def]
    settings = client.server.app[__import__("server.http.appkeys", fromlist=["SETTINGS"]).SETTINGS]
    now = int(time.time())
    claims = {
        "sub": "1",
        "name": "admin",
        "role": "admin",
        "agency": None,
        "ver": 0,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    key = changes.pop("key", settings.jwt_secret)
    alg = changes.pop("alg", "HS256")
    claims.update(changes)
    return jwt.encode(claims, key, algorithm=alg)


async def test_bad_tokens_are_refused(client, users) -> None:  # type: ignore[no-untyped-def]
    url = "/api/v1/auth/me"
    assert (await client.get(url, headers=bearer(_forge(client)))).status == 200
    cases = {
        "expired": _forge(client, exp=int(time.time()) - 10),
        "wrong signature": _forge(client, key="another secret entirely, 32 bytes+"),
        "wrong issuer": _forge(client, iss="evil"),
        "wrong audience": _forge(client, aud="other-app"),
        "alg none": jwt.encode(
            {
                "sub": "1",
                "role": "admin",
                "exp": int(time.time()) + 600,
                "iat": int(time.time()),
                "iss": "custodian",
                "aud": "custodian-api",
            },
            None,
            algorithm="none",
        ),
        "garbage": "not.a.token",
    }
    for name, token in cases.items():
        r = await client.get(url, headers=bearer(token))
        assert r.status == 401, name
        body = await r.json()
        assert body["code"] in ("bad_token", "token_expired"), name
    r = await client.get(url, headers=bearer(cases["expired"]))
    assert (await r.json())["code"] == "token_expired"
    # A stale token does not break public routes.
    assert (await client.get("/healthz", headers=bearer(cases["expired"]))).status == 200


async def test_oversize_request_is_refused(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(max_request_bytes=1024)
    r = await client.post(
        "/api/v1/auth/login",
        data=b'{"username": "' + b"x" * 5000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 413 and (await r.json())["code"] == "too_large"


async def test_unknown_route_and_method_are_json(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/api/v1/nothing-here")
    assert r.status == 404 and (await r.json())["code"] == "not_found"
    r = await client.delete("/healthz")
    assert r.status == 405 and (await r.json())["code"] == "method_not_allowed"
