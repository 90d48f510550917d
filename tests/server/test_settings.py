"""Settings: defaults, layering, unknown keys and wrong types fail naming the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from server.errors import SettingsError
from server.settings import DEFAULTS_FILE, Settings, load_settings, setting_fields

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_file_matches_dataclass_defaults() -> None:
    shipped = tomllib.loads(DEFAULTS_FILE.read_text())
    for f in setting_fields():
        assert f.name in shipped, f"config/custodian.toml lacks {f.name}"
        assert shipped[f.name] == f.default, f.name
    assert set(shipped) == {f.name for f in setting_fields()}


def test_every_setting_has_help_and_is_documented_in_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for f in setting_fields():
        assert f.metadata.get("help"), f"{f.name} has no help line"
        assert re.search(rf"`{f.name}`", readme), f"README does not document setting {f.name}"


def test_layering_config_then_env_then_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('port = 9000\nlog_level = "DEBUG"\n')
    s = load_settings(cfg, env={"CUSTODIAN_PORT": "9100"}, overrides={"log_level": "ERROR"})
    assert s.port == 9100 and s.log_level == "ERROR"
    assert load_settings(cfg, env={}).port == 9000
    assert isinstance(s, Settings)


def test_unknown_key_in_file_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("prot = 9000\n")
    with pytest.raises(SettingsError, match="unknown setting 'prot'"):
        load_settings(cfg, env={})


def test_unknown_env_setting_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="CUSTODIAN_DATABSE_URL"):
        load_settings(None, env={"CUSTODIAN_DATABSE_URL": "x"})


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('port = "eighty"\n', "port"),
        ("jwt_secret = 5\n", "jwt_secret"),
        ('s3_create_bucket = "maybe"\n', "s3_create_bucket"),
    ],
)
def test_wrong_type_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(SettingsError, match=key):
        load_settings(cfg, env={})


def test_bad_values_refused() -> None:
    with pytest.raises(SettingsError, match="store_backend"):
        load_settings(None, env={"CUSTODIAN_STORE_BACKEND": "ftp"})
    with pytest.raises(SettingsError, match="camera_timezone"):
        load_settings(None, env={"CUSTODIAN_CAMERA_TIMEZONE": "Mars/Olympus"})
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings("/nonexistent/custodian.toml", env={})


def test_settings_are_frozen() -> None:
    s = load_settings(None, env={})
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


def test_data_dir_holds_sqlite_and_store(tmp_path: Path) -> None:
    s = load_settings(None, env={}, overrides={"data_dir": str(tmp_path)})
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'custodian.db'}"
    assert s.resolved_store_path == tmp_path / "store"
