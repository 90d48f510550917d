"""Settings: one frozen object, loaded once from TOML with CUSTODIAN_* environment overrides."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.errors import SettingsError

ENV_PREFIX = "CUSTODIAN_"
MIN_JWT_SECRET_BYTES = 32
# The shipped defaults a deployer reads and edits; values here must equal the dataclass defaults.
DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "config" / "custodian.toml"


def _s(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Every deployer-visible setting, with its default and a help line."""

    data_dir: str = _s("./var", "Folder holding the SQLite catalogue, the local store and keys.")
    host: str = _s("127.0.0.1", "Address `custodian serve` listens on.")
    port: int = _s(8080, "Port `custodian serve` listens on.")
    database_url: str = _s(
        "",
        "SQLAlchemy URL of the catalogue; empty means SQLite at DATA_DIR/custodian.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    sqlite_busy_timeout_ms: int = _s(10000, "How long SQLite waits for a lock before failing.")
    store_backend: str = _s("local", "Where originals live: `local` (a folder) or `s3`.")
    store_path: str = _s("", "Folder of the local store; empty means DATA_DIR/store.")
    store_quota_bytes: int = _s(0, "Refuse puts that would make the store exceed this; 0 = none.")
    store_min_free_bytes: int = _s(
        64 * 1024 * 1024, "Refuse puts that would leave less free disk than this (local store)."
    )
    s3_endpoint_url: str = _s("", "S3 endpoint (MinIO, Ceph RGW, AWS); empty means AWS default.")
    s3_bucket: str = _s("custodian", "Bucket holding objects; must have Object Lock enabled.")
    s3_region: str = _s("us-east-1", "S3 region name.")
    s3_access_key: str = _s("", "S3 access key id; empty means boto3's usual lookup.")
    s3_secret_key: str = _s("", "S3 secret access key.")
    s3_create_bucket: bool = _s(False, "Create the bucket (with Object Lock) at start if missing.")
    s3_multipart_threshold_bytes: int = _s(
        64 * 1024 * 1024, "Objects larger than this are uploaded to S3 in parts."
    )
    s3_part_size_bytes: int = _s(16 * 1024 * 1024, "Part size of S3 multipart uploads.")
    s3_connect_timeout_s: float = _s(5.0, "Seconds to wait for the S3 endpoint to accept.")
    s3_retries: int = _s(2, "Attempts boto3 makes before the store reports S3 unreachable.")
    retention_default_days: int = _s(
        183, "Minimum retention of an original (six months, public-security practice)."
    )
    jwt_secret: str = _s(
        "",
        "HMAC secret for login tokens; empty means a random one kept in DATA_DIR/jwt.secret. "
        "Set the same value on every server of a scale-out deployment.",
    )
    jwt_issuer: str = _s("custodian", "`iss` claim of issued tokens, checked on every request.")
    jwt_audience: str = _s("custodian-api", "`aud` claim of issued tokens, checked too.")
    jwt_ttl_seconds: int = _s(3600, "Lifetime of a login token.")
    login_max_failures: int = _s(5, "Failed logins per user or per address before a lockout.")
    login_window_seconds: int = _s(300, "Window (and lockout length) for counting failed logins.")
    max_request_bytes: int = _s(1024 * 1024, "Largest request body accepted, uploads excepted.")
    camera_timezone: str = _s(
        "Asia/Shanghai", "Zone of local times in camera file names, converted to UTC on ingest."
    )
    log_level: str = _s("INFO", "Logging level: DEBUG, INFO, WARNING, ERROR.")
    worker_concurrency: int = _s(
        1, "Jobs run at once by `custodian serve` (in-process) or `custodian worker`."
    )
    worker_in_server: bool = _s(
        True,
        "Run workers inside `custodian serve`; turn off when `custodian worker` processes do the work.",
    )
    job_lease_seconds: int = _s(
        60, "A claimed job whose worker sends no heartbeat for this long is reclaimed."
    )
    job_time_limit_seconds: int = _s(
        3600, "A media job running longer than this is killed and retried."
    )
    job_poll_seconds: float = _s(1.0, "How often an idle worker looks for new jobs.")
    media_max_width: int = _s(
        7680, "Refuse media wider than this before decoding (decompression bombs)."
    )
    media_max_height: int = _s(4320, "Refuse media taller than this before decoding.")
    media_max_duration_seconds: int = _s(6 * 3600, "Refuse media claiming to be longer than this.")
    upload_max_bytes: int = _s(
        64 * 1024**3, "Largest single upload (tus Upload-Length) accepted; larger ones get 413."
    )
    upload_expiry_seconds: int = _s(
        86400, "An unfinished upload idle this long expires and its partial bytes are deleted."
    )
    upload_cleanup_interval_seconds: int = _s(
        300, "How often the server looks for expired uploads to clean up."
    )
    upload_staging_path: str = _s(
        "",
        "Folder where unfinished uploads wait (local store); empty means STORE/.tmp. With "
        "several servers it must be one shared folder (each server checks at start that it "
        "sees the same folder as the others). With the S3 store, uploads wait in the bucket.",
    )
    upload_staging_part_bytes: int = _s(
        8 * 1024 * 1024,
        "S3 store: PATCH bytes gathered into one multipart part (at least "
        "5 MiB); smaller PATCHes wait as small piece objects until a part is full.",
    )
    signing_key_path: str = _s(
        "",
        "Ed25519 key (PEM) that signs manifests and tree heads; empty means "
        "DATA_DIR/signing_key.pem, created on first start. Share it between servers.",
    )
    tree_head_interval_seconds: int = _s(
        30,
        "A signed tree head covers every ledger write at most this many seconds after it "
        "(a head is signed when the ledger has grown, and on shutdown); 0 = only on demand.",
    )
    tree_head_witness_file: str = _s(
        "",
        "File (ideally on another machine's mount or write-once media) to which every "
        "signed tree head is appended as one JSON line; `custodian verify` checks the "
        "catalogue still holds each one. Empty = no witness.",
    )
    tsa_url: str = _s(
        "",
        "RFC 3161 time-stamping authority URL for tree heads and manifests; empty means "
        "times are the server's own.",
    )
    tsa_roots_file: str = _s(
        "",
        "PEM file of the root certificates trusted for TSA tokens; empty means tokens are "
        "kept but not checked by verify.",
    )
    tsa_timeout_s: float = _s(10.0, "Seconds to wait for the time-stamping authority.")
    fixity_interval_seconds: int = _s(
        86400,
        "How often the server re-hashes the store and checks the ledger (a fixity scrub); 0 = off.",
    )
    fixity_max_bytes_per_second: int = _s(
        50 * 1024 * 1024,
        "Read budget of the scheduled fixity scrub in bytes per second; 0 = unlimited.",
    )
    retention_case_days: int = _s(
        0,
        "Retention of footage linked to a case as evidence, counted from the link; 0 = "
        "permanent (kept with the case file). Never shorter than the ordinary retention.",
    )
    rules_dir: str = _s(
        "",
        "Folder of rule packs (*.toml); empty means the shipped config/rules. Agency packs "
        "there extend the base pack (Art. 25).",
    )
    rule_pack: str = _s("lishui", "Id of the base rule pack every case is checked against.")
    auto_link_agencies: str = _s(
        "",
        "Agency codes (comma separated, `*` = all) whose footage matching a record's officers "
        "and time is linked to the case automatically; elsewhere it is only proposed.",
    )
    auto_link_margin_seconds: int = _s(
        300,
        "Footage within this many seconds of a record's time counts as overlapping it "
        "when proposing links.",
    )
    station_offline_seconds: int = _s(
        300,
        "A docking station that has sent no heartbeat or upload for this many seconds is "
        "shown as offline (the agent reports every minute).",
    )

    export_dir: str = _s(
        "", "Folder where sealed export packages are written; empty means DATA_DIR/exports."
    )
    report_font_path: str = _s(
        "",
        "CJK font (TTF/TTC) embedded as a subset in export custody reports; empty means the "
        "first of wqy-zenhei, Noto Sans CJK, wqy-microhei, AR PL UMing, Droid Sans Fallback that "
        "exists; with none, reportlab's STSong-Light (not embedded) and the export says so.",
    )
    export_clip_precise: bool = _s(
        False,
        "Cut export clips precisely by re-encoding (true) or by stream copy from the "
        "keyframe at or before the in-point (false, bit-exact frames); watermarks always re-encode.",
    )
    export_max_items: int = _s(500, "Most originals one export may hold.")
    export_max_clips: int = _s(200, "Most clips one export may hold.")
    view_session_seconds: int = _s(
        1800,
        "One `view` ledger entry covers a user's HLS playback (or ranged reads of an "
        "original) of an item for this long; fetches after it start a new entry.",
    )
    denial_ledger_limit: int = _s(
        20,
        "Permission denials (403, or 404 for another agency's object) ledgered per user per "
        "denial_ledger_window_seconds; further ones are counted, not ledgered one by one.",
    )
    denial_ledger_window_seconds: int = _s(600, "Window of denial_ledger_limit.")
    # -- accounts, logins, quotas, hygiene (issue 12) -----------------------------------------
    account_cache_seconds: float = _s(
        5.0,
        "How long a server process trusts its cached copy of an account (role, agency, "
        "active, token version) before reading the catalogue again; changes made through this "
        "process take effect at once, changes from the CLI or another server within this time.",
    )
    trusted_proxies: str = _s(
        "",
        "Addresses or networks (comma separated, e.g. `127.0.0.1, 10.0.0.0/8`) of reverse "
        "proxies whose X-Forwarded-For header is believed; empty means the header is ignored.",
    )
    login_delay_seconds: float = _s(
        1.0,
        "First delay once an address or a user reaches login_max_failures; it doubles with "
        "each further failure (a correct password is answered after the delay, not refused).",
    )
    login_max_delay_seconds: float = _s(30.0, "Longest delay before a login attempt is answered.")
    login_hash_threads: int = _s(
        2, "Threads that check passwords (scrypt), apart from the catalogue's threads."
    )
    login_hash_queue: int = _s(
        64, "Password checks allowed to wait for a hash thread; more get 503 at once."
    )
    login_failure_entries_per_minute: int = _s(
        30,
        "Failed-login ledger entries written per minute at most; further failures are "
        "counted and the next entry carries the count; 0 = every failure is ledgered.",
    )
    quota_user_reserved_bytes: int = _s(
        256 * 1024**3,
        "Bytes one user (a station) may have announced in unfinished uploads; 0 = no limit.",
    )
    quota_user_open_uploads: int = _s(100, "Unfinished uploads one user may hold; 0 = no limit.")
    quota_agency_reserved_bytes: int = _s(
        1024**4, "Bytes one agency's users may have announced in unfinished uploads; 0 = no limit."
    )
    quota_agency_open_uploads: int = _s(
        400, "Unfinished uploads one agency's users may hold; 0 = no limit."
    )
    export_retention_days: int = _s(
        30,
        "Finished export packages are deleted from the server after this many days (the "
        "export record and its ledger entries stay); 0 = kept for ever.",
    )
    export_max_per_hour: int = _s(10, "Exports one user may request per hour; 0 = no limit.")
    # -- playback and thread pools (issue 18) --------------------------------------------
    stream_threads: int = _s(
        16,
        "Threads reading stored objects for playback and downloads where the kernel cannot "
        "send the file itself (S3 store, stream_sendfile off); their own pool, apart from the "
        "upload, job and catalogue threads.",
    )
    upload_threads: int = _s(8, "Threads writing and hashing received upload bytes (tus PATCH).")
    stream_sendfile: bool = _s(
        True,
        "Send local-store objects with sendfile (the kernel copies the file to the socket); "
        "turn off only for a store on a filesystem where sendfile misbehaves.",
    )
    media_access_cache_seconds: float = _s(
        5.0,
        "How long a server process reuses its check that callers of a role and agency may "
        "fetch an item's renditions (HLS segments, sprites, waveform) before asking the "
        "catalogue again; every fetch is still checked against a valid account and covered by "
        "a view entry; 0 = ask the catalogue on every fetch.",
    )
    accel_redirect_location: str = _s(
        "",
        "Behind nginx: its internal location serving the local store folder (e.g. "
        "`/_custodian_store/`, see deploy/nginx/accel.conf). When set, a request the trusted "
        "proxy marks with `X-Sendfile-Type: X-Accel-Redirect` is checked and ledgered here and "
        "its bytes are sent by nginx; empty = Custodian sends every byte.",
    )

    # -- derived paths -------------------------------------------------------------------
    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_path / 'custodian.db'}"

    @property
    def resolved_export_path(self) -> Path:
        return (
            Path(self.export_dir).expanduser().resolve()
            if self.export_dir
            else (self.data_path / "exports")
        )

    @property
    def resolved_store_path(self) -> Path:
        return (
            Path(self.store_path).expanduser().resolve()
            if self.store_path
            else (self.data_path / "store")
        )


def setting_fields() -> list[dataclasses.Field[Any]]:
    """The settings' fields, in declaration order."""
    return list(dataclasses.fields(Settings))


def _coerce(name: str, typ: str, value: Any, source: str) -> Any:
    """Check or convert one value to the declared type; fail naming the key."""
    if typ == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        ):
            return value.lower() in ("1", "true", "yes", "on")
    elif typ == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif typ == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif typ == "str":
        if isinstance(value, str):
            return value
    raise SettingsError(f"setting {name!r} from {source}: expected {typ}, got {value!r}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    # One optional [custodian] table or flat keys; both read the same.
    return data.get("custodian", data) if isinstance(data.get("custodian"), dict) else data


def load_settings(
    config_file: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Defaults file, then the --config file, then CUSTODIAN_* env, then explicit overrides."""
    env = os.environ if env is None else env
    types = {
        f.name: f.type if isinstance(f.type, str) else f.type.__name__ for f in setting_fields()
    }
    values: dict[str, Any] = {}
    layers: list[tuple[str, dict[str, Any]]] = []
    if DEFAULTS_FILE.exists():
        layers.append((str(DEFAULTS_FILE), _read_toml(DEFAULTS_FILE)))
    if config_file:
        layers.append((str(config_file), _read_toml(Path(config_file))))
    for source, layer in layers:
        for key, value in layer.items():
            if key not in types:
                raise SettingsError(f"unknown setting {key!r} in {source}")
            values[key] = _coerce(key, types[key], value, source)
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key in _ENV_NOT_SETTINGS:
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in types:
            raise SettingsError(f"unknown setting {name!r} from environment variable {key}")
        values[name] = _coerce(name, types[name], value, f"environment variable {key}")
    for key, value in (overrides or {}).items():
        if key not in types:
            raise SettingsError(f"unknown setting {key!r}")
        if value is not None:
            values[key] = _coerce(key, types[key], value, "command line")
    settings = Settings(**values)
    _validate(settings)
    return settings


# Environment variables with our prefix that are not settings (read elsewhere, once).
_ENV_NOT_SETTINGS = frozenset(
    {"CUSTODIAN_ADMIN_PASSWORD", "CUSTODIAN_TEST_PG_URL", "CUSTODIAN_TEST_DB_PREFIX"}
)


def _validate(s: Settings) -> None:
    if s.store_backend not in ("local", "s3"):
        raise SettingsError(
            f"setting 'store_backend' must be 'local' or 's3', not {s.store_backend!r}"
        )
    if not 0 < s.port < 65536:
        raise SettingsError(f"setting 'port' must be 1-65535, not {s.port}")
    for name in (
        "tree_head_interval_seconds",
        "fixity_interval_seconds",
        "fixity_max_bytes_per_second",
    ):
        if getattr(s, name) < 0:
            raise SettingsError(f"setting {name!r} must be 0 or more")
    if s.tsa_timeout_s <= 0:
        raise SettingsError("setting 'tsa_timeout_s' must be positive")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError("setting 'log_level' must be DEBUG, INFO, WARNING or ERROR")
    for name in (
        "jwt_ttl_seconds",
        "retention_default_days",
        "login_max_failures",
        "max_request_bytes",
        "export_max_items",
        "export_max_clips",
        "view_session_seconds",
        "denial_ledger_limit",
        "denial_ledger_window_seconds",
    ):
        if getattr(s, name) <= 0:
            raise SettingsError(f"setting {name!r} must be positive")
    if s.jwt_secret and len(s.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
        raise SettingsError(
            f"setting 'jwt_secret' must be at least {MIN_JWT_SECRET_BYTES} bytes "
            "(or empty for a random one kept in the data folder); generate one "
            "with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    for name in ("login_hash_threads", "login_hash_queue", "stream_threads", "upload_threads"):
        if getattr(s, name) <= 0:
            raise SettingsError(f"setting {name!r} must be positive")
    for name in (
        "account_cache_seconds",
        "login_delay_seconds",
        "login_max_delay_seconds",
        "login_failure_entries_per_minute",
        "quota_user_reserved_bytes",
        "quota_user_open_uploads",
        "quota_agency_reserved_bytes",
        "quota_agency_open_uploads",
        "export_retention_days",
        "export_max_per_hour",
        "media_access_cache_seconds",
    ):
        if getattr(s, name) < 0:
            raise SettingsError(f"setting {name!r} must be 0 or more")
    if s.upload_staging_part_bytes < 5 * 1024 * 1024:
        raise SettingsError(
            "setting 'upload_staging_part_bytes' must be at least 5 MiB "
            "(5242880): S3 refuses smaller parts"
        )
    from server.netaddr import parse_networks

    parse_networks(s.trusted_proxies)
    loc = s.accel_redirect_location
    if loc and not (
        loc.startswith("/")
        and loc.endswith("/")
        and "?" not in loc
        and ".." not in loc
        and len(loc) > 2
    ):
        raise SettingsError(
            "setting 'accel_redirect_location' must be an absolute path that "
            f"ends with '/' (e.g. /_custodian_store/), not {loc!r}"
        )
    if loc and not s.trusted_proxies:
        raise SettingsError(
            "setting 'accel_redirect_location' needs 'trusted_proxies' (the "
            "proxy whose X-Sendfile-Type header is believed)"
        )
    if s.retention_default_days < 180:
        raise SettingsError("setting 'retention_default_days' must be at least 180 (six months)")
    for name in ("retention_case_days", "auto_link_margin_seconds"):
        if getattr(s, name) < 0:
            raise SettingsError(f"setting {name!r} must be 0 or more")
    if 0 < s.retention_case_days < s.retention_default_days:
        raise SettingsError(
            "setting 'retention_case_days' must be 0 (permanent) or at least "
            "'retention_default_days'"
        )
    # Rule packs are checked at start too: an unknown key stops the server naming file and key.
    from server.cases.rulebook import rulebook

    rulebook(s.rules_dir, s.rule_pack)
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(s.camera_timezone)
    except Exception:
        raise SettingsError(
            f"setting 'camera_timezone': unknown zone {s.camera_timezone!r}"
        ) from None


def render_defaults_toml() -> str:
    """config/custodian.toml as it must read: every setting, its help line and default."""
    lines = [
        "# Custodian default settings. Every key is optional; a --config file and",
        "# CUSTODIAN_<KEY> environment variables override these. README lists each one.",
        "",
    ]
    for f in setting_fields():
        v = f.default
        value = (
            ("true" if v else "false")
            if isinstance(v, bool)
            else (f'"{v}"' if isinstance(v, str) else repr(v))
        )
        lines += [f"# {f.metadata['help']}", f"{f.name} = {value}", ""]
    return "\n".join(lines)


def render_markdown_table() -> str:
    """The README's settings table."""
    rows = ["| setting | default | what it does |", "|---|---|---|"]
    for f in setting_fields():
        d = f.default
        shown = '`""`' if d == "" else f"`{str(d).lower() if isinstance(d, bool) else d}`"
        rows.append(f"| `{f.name}` | {shown} | {f.metadata['help'].replace('|', '/')} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # python -m server.settings > config/custodian.toml
    import sys

    sys.stdout.write(
        render_markdown_table() if "--markdown" in sys.argv else render_defaults_toml()
    )
