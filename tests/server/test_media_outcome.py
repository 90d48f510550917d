"""One typed shape across the media boundary: the child's outcome carries DerivedFiles (checked
when they come in), the kind classifier is one, and duration_s is a typed, backfilled column."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic import command

from integrity.manifest import DerivedFile
from server.catalogue.migrate import alembic_config
from server.media.child import MediaOutcome
from transcode.kinds import kind_from_name
from transcode.renditions import HLS_PLAYLIST, TRICKPLAY_VTT, links

SRC = "a" * 64


def _outcome(**over) -> MediaOutcome:  # type: ignore[no-untyped-def]
    derived = DerivedFile(
        "hls/index.m3u8",
        "b" * 64,
        10,
        "hls_playlist",
        SRC,
        "ffmpeg",
        "n9",
        {"attempts": [{"step": "copy", "passed": True}], "argv": ["-c", "copy"]},
    )
    return MediaOutcome(
        status="ready",
        kind="video",
        reason="",
        reason_zh="",
        outputs=(derived,),
        probe={"duration_s": 4.0},
        attempts=({"step": "copy"},),
        **over,
    )


def test_outcome_round_trips_with_derived_files() -> None:
    out = _outcome()
    back = MediaOutcome.from_json(out.to_json())
    assert isinstance(back.outputs[0], DerivedFile)
    assert back.outputs[0].to_dict() == out.outputs[0].to_dict()
    assert back.outputs[0].derived_from == SRC and back.probe == {"duration_s": 4.0}


def test_outcome_refuses_a_derived_file_the_manifest_would_refuse() -> None:
    data = json.loads(_outcome().to_json())
    data["outputs"][0]["role"] = "made_up"
    with pytest.raises(ValueError, match="unknown role"):
        MediaOutcome.from_json(json.dumps(data))
    data["outputs"][0]["role"] = "hls_playlist"
    data["outputs"][0]["name"] = "../escape"
    with pytest.raises(ValueError, match="unsafe"):
        MediaOutcome.from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("name", "kind"),
    [("DSJ001.MP4", "video"), ("ch01.dav", "video"), ("x.ts", "video"), ("a.amr", "audio"),
     ("p.HEIC", "photo"), ("p.gif", "photo"), ("scan.pdf", "document"), ("x.bin", "other")],
)  # fmt: skip
def test_one_kind_classifier(name: str, kind: str) -> None:
    assert kind_from_name(name) == kind
    assert kind_from_name("x.bin", "document") == "document"


def test_rendition_links() -> None:
    got = links("/e/1", {HLS_PLAYLIST, TRICKPLAY_VTT, "hls/seg-00001.m4s"})
    assert got == {"hls": "/e/1/hls/index.m3u8", "thumbnails": "/e/1/thumbnails.vtt"}


def test_migration_backfills_duration_from_media_info(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0201")  # the head before 0202
        conn.execute(
            sa.text(
                "INSERT INTO stored_objects (sha256, size, role, created_at) "
                "VALUES (:h, 1, 'original', '2026-01-01 00:00:00')"
            ),
            {"h": SRC},
        )
        for n, info in enumerate(({"probe": {"duration_s": 12.5}}, {"probe": None}, None)):
            conn.execute(
                sa.text(
                    "INSERT INTO evidence_items (id, sha256, size, kind, status, "
                    "status_reason, original_filename, agency_id, received_at, "
                    "retention_class, media_info) VALUES (:id, :h, 1, 'video', 'ready', '', "
                    "'x.mp4', NULL, '2026-01-01 00:00:00', 'default', :info)"
                ),
                {"id": f"i{n}", "h": SRC, "info": None if info is None else json.dumps(info)},
            )
        command.upgrade(cfg, "head")
        got = dict(conn.execute(sa.text("SELECT id, duration_s FROM evidence_items")).all())
    assert got == {"i0": 12.5, "i1": None, "i2": None}
    engine.dispose()
