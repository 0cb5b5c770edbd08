from __future__ import annotations

import os
from pathlib import Path

import pytest

from floxls.config import (
    PUBLISH_DISABLED_FIX,
    Settings,
    default_data_dir,
    default_store_url,
    enable_publish,
    load_settings,
    system_config_path,
    user_config_path,
)
from floxls.errors import FloxlsError


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment that sees no real config: HOME in tmp, no system file."""
    env = {"HOME": str(tmp_path / "home"), "FLOX_SYSTEM_CONFIG_DIR": ""}
    env.update(extra)
    return env


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_user_config_path_order(tmp_path):
    home = tmp_path / "home"
    assert user_config_path({"HOME": str(home)}) == home / ".config/flox/flox.toml"
    xdg = {"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert user_config_path(xdg) == tmp_path / "xdg/flox/flox.toml"
    # a relative XDG_CONFIG_HOME is invalid per the XDG spec and is ignored
    assert user_config_path({"HOME": str(home), "XDG_CONFIG_HOME": "rel"}) == (
        home / ".config/flox/flox.toml"
    )
    both = dict(xdg, FLOX_CONFIG_DIR=str(tmp_path / "fcd"))
    assert user_config_path(both) == tmp_path / "fcd/flox.toml"
    assert user_config_path(dict(xdg, FLOX_CONFIG_DIR="")) == tmp_path / "xdg/flox/flox.toml"


def test_system_config_path():
    assert system_config_path({}) == Path("/etc/flox.toml")
    assert system_config_path({"FLOX_SYSTEM_CONFIG_DIR": "/opt/x"}) == Path("/opt/x/flox.toml")
    assert system_config_path({"FLOX_SYSTEM_CONFIG_DIR": ""}) is None


def test_defaults_without_any_config(tmp_path):
    s = load_settings(environ=clean_env(tmp_path))
    assert s.store_url is None
    assert s.signing_key is None
    assert s.publish_enabled is False
    assert s.floxhub_token is None
    assert s.catalog_url == "https://api.flox.dev"
    assert s.floxhub_url == "https://hub.flox.dev"
    assert s.data_dir == tmp_path / "home/.local/share/floxls"
    assert s.config_file == tmp_path / "home/.config/flox/flox.toml"


def test_precedence_system_user_env_overrides(tmp_path):
    system = write(
        tmp_path / "sys/flox.toml",
        'catalog_url = "https://system.example"\nfloxhub_url = "https://hub.system"\n'
        '[publish]\nstore_url = "s3://system"\nsigning_key = "/keys/system.sec"\n'
        "[features]\npublish = true\n",
    )
    env = clean_env(tmp_path, FLOX_SYSTEM_CONFIG_DIR=str(system.parent))
    s = load_settings(environ=env)
    assert s.catalog_url == "https://system.example"
    assert s.floxhub_url == "https://hub.system"
    assert s.store_url == "s3://system"
    assert s.signing_key == Path("/keys/system.sec")
    assert s.publish_enabled is True

    write(
        tmp_path / "home/.config/flox/flox.toml",
        'catalog_url = "https://user.example/"\nfloxhub_token = "user-token"\n'
        '[publish]\nstore_url = "file:///user/cache"\n[features]\npublish = false\n',
    )
    s = load_settings(environ=env)
    assert s.catalog_url == "https://user.example"  # trailing slash dropped
    assert s.store_url == "file:///user/cache"
    assert s.signing_key == Path("/keys/system.sec")  # still from the system file
    assert s.publish_enabled is False
    assert s.floxhub_token == "user-token"

    env.update(
        FLOX_CATALOG_URL="https://env.example",
        FLOX_FLOXHUB_TOKEN="env-token",
        FLOX_FLOXHUB_URL="https://hub.env",
        FLOX_FEATURES_PUBLISH="true",
    )
    s = load_settings(environ=env)
    assert (s.catalog_url, s.floxhub_token, s.floxhub_url) == (
        "https://env.example",
        "env-token",
        "https://hub.env",
    )
    assert s.publish_enabled is True

    s = load_settings(
        {
            "catalog_url": "http://127.0.0.1:1",
            "floxhub_token": "cli-token",
            "store_url": "s3://cli",
            "signing_key": "/keys/cli.sec",
        },
        environ=env,
    )
    assert s.catalog_url == "http://127.0.0.1:1"
    assert s.floxhub_token == "cli-token"
    assert s.store_url == "s3://cli"
    assert s.signing_key == Path("/keys/cli.sec")


def test_overrides_none_or_empty_do_not_mask_lower_layers(tmp_path):
    write(tmp_path / "home/.config/flox/flox.toml", '[publish]\nstore_url = "s3://user"\n')
    s = load_settings({"store_url": None, "signing_key": ""}, environ=clean_env(tmp_path))
    assert s.store_url == "s3://user"
    assert s.signing_key is None
    with pytest.raises(ValueError):
        load_settings({"bogus": "x"}, environ=clean_env(tmp_path))


def test_system_config_parameter_and_isolation(tmp_path):
    sys_file = write(tmp_path / "elsewhere.toml", "[features]\npublish = true\n")
    env = clean_env(tmp_path)
    del env["FLOX_SYSTEM_CONFIG_DIR"]
    assert load_settings(environ=env, system_config=sys_file).publish_enabled is True
    assert load_settings(environ=env, system_config=None).publish_enabled is False
    env["FLOX_SYSTEM_CONFIG_DIR"] = str(tmp_path / "nothing-here")
    assert load_settings(environ=env).publish_enabled is False


def test_signing_key_spellings(tmp_path):
    cfg = tmp_path / "home/.config/flox/flox.toml"
    write(cfg, '[publish]\nsigning_key = "old.sec"\n')
    s = load_settings(environ=clean_env(tmp_path))
    assert s.signing_key == cfg.parent / "old.sec"  # relative to the file
    write(cfg, '[publish]\nsigning_key = "/a/old.sec"\nsigning_private_key = "/a/new.sec"\n')
    assert load_settings(environ=clean_env(tmp_path)).signing_key == Path("/a/new.sec")
    write(cfg, '[publish]\nsigning_private_key = "~/k.sec"\n')
    expected = Path(os.path.expanduser("~/k.sec"))
    assert load_settings(environ=clean_env(tmp_path)).signing_key == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"FLOX_FEATURES_PUBLISH": "true"}, True),
        ({"FLOX_FEATURE_PUBLISH": "true"}, True),
        ({"FLOX_FEATURES_PUBLISH": "1"}, True),
        ({"FLOX_FEATURES_PUBLISH": "TRUE"}, True),
        ({"FLOX_FEATURES_PUBLISH": "false", "FLOX_FEATURE_PUBLISH": "true"}, False),
        ({"FLOX_FEATURES_PUBLISH": "false"}, False),
        ({}, True),  # the file says true
    ],
)
def test_publish_feature_env(tmp_path, env, expected):
    write(tmp_path / "home/.config/flox/flox.toml", "features.publish = true\n")
    assert load_settings(environ=clean_env(tmp_path, **env)).publish_enabled is expected


def test_bad_feature_env_value(tmp_path):
    with pytest.raises(FloxlsError) as info:
        load_settings(environ=clean_env(tmp_path, FLOX_FEATURES_PUBLISH="maybe"))
    assert "FLOX_FEATURES_PUBLISH" in info.value.message


def test_malformed_toml_names_file_and_line(tmp_path):
    cfg = write(
        tmp_path / "home/.config/flox/flox.toml",
        '# comment\ncatalog_url = "https://x"\n[publish\nstore_url = "s3://b"\n',
    )
    with pytest.raises(FloxlsError) as info:
        load_settings(environ=clean_env(tmp_path))
    assert f"{cfg}:3:" in info.value.message
    assert "line 3" in (info.value.fix or "")


def test_malformed_system_toml_is_reported_too(tmp_path):
    sys_file = write(tmp_path / "sys/flox.toml", "a = \n")
    with pytest.raises(FloxlsError) as info:
        load_settings(environ=clean_env(tmp_path), system_config=sys_file)
    assert f"{sys_file}:1:" in info.value.message


def test_wrong_types_are_reported(tmp_path):
    cfg = tmp_path / "home/.config/flox/flox.toml"
    write(cfg, "[publish]\nstore_url = 3\n")
    with pytest.raises(FloxlsError) as info:
        load_settings(environ=clean_env(tmp_path))
    assert "publish.store_url" in info.value.message and str(cfg) in info.value.message
    write(cfg, '[features]\npublish = "perhaps"\n')
    with pytest.raises(FloxlsError, match=r"features\.publish"):
        load_settings(environ=clean_env(tmp_path))


def test_repr_hides_token(tmp_path):
    token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.sig-VERY-SECRET-123"
    s = load_settings(
        {"store_url": "s3://bucket?secret-key=/k&region=eu-west-1"},
        environ=clean_env(tmp_path, FLOX_FLOXHUB_TOKEN=token),
    )
    assert s.floxhub_token == token
    for text in (repr(s), str(s), f"{s}", f"{s!r}"):
        assert token not in text
        assert "floxhub_token='***'" in text
        assert "secret-key" not in text
        assert "region=eu-west-1" in text
    assert "floxhub_token=None" in repr(Settings(data_dir=tmp_path, config_file=tmp_path))


def test_data_dir(tmp_path):
    assert default_data_dir({"HOME": "/h"}) == Path("/h/.local/share/floxls")
    assert default_data_dir({"HOME": "/h", "XDG_DATA_HOME": "/x"}) == Path("/x/floxls")
    assert default_data_dir({"XDG_DATA_HOME": "/x", "FLOXLS_DATA_DIR": "/d"}) == Path("/d")
    s = load_settings(environ=clean_env(tmp_path, FLOXLS_DATA_DIR=str(tmp_path / "d")))
    assert s.data_dir == tmp_path / "d"
    assert default_store_url(s) == f"file://{tmp_path}/d/cache"


def test_enable_publish_creates_file_and_dirs(tmp_path):
    target = tmp_path / "a/b/flox.toml"
    assert enable_publish(target) == target
    assert target.read_text() == "[features]\npublish = true\n"
    env = clean_env(tmp_path, FLOX_CONFIG_DIR=str(target.parent))
    assert load_settings(environ=env).publish_enabled is True


def test_enable_publish_keeps_comments_and_formatting(tmp_path):
    original = (
        "# my flox config\n"
        'floxhub_url   =   "https://hub.example"   # aligned on purpose\n'
        "\n"
        "[features]\n"
        "# keep me\n"
        "publish = false  # was off\n"
        'other = "x"\n'
        "\n"
        "[publish]\n"
        'store_url = "s3://b"\n'
    )
    target = write(tmp_path / "flox.toml", original)
    target.chmod(0o600)
    enable_publish(target)
    text = target.read_text()
    assert text == original.replace("publish = false  # was off", "publish = true  # was off")
    assert target.stat().st_mode & 0o777 == 0o600


def test_enable_publish_appends_table_and_handles_dotted_keys(tmp_path):
    target = write(tmp_path / "flox.toml", '# top\ncatalog_url = "https://c"\n')
    enable_publish(target)
    assert target.read_text() == '# top\ncatalog_url = "https://c"\n\n[features]\npublish = true\n'
    dotted = write(tmp_path / "d.toml", "features.publish = false\nfeatures.other = 1\n")
    enable_publish(dotted)
    assert dotted.read_text() == "features.publish = true\nfeatures.other = 1\n"
    inline = write(tmp_path / "i.toml", "features = { other = 1 }\n")
    enable_publish(inline)
    assert "publish = true" in inline.read_text() and "other = 1" in inline.read_text()


def test_enable_publish_errors_leave_file_alone(tmp_path):
    bad = write(tmp_path / "bad.toml", "x = [\n")
    with pytest.raises(FloxlsError, match=rf"{bad}:1"):
        enable_publish(bad)
    assert bad.read_text() == "x = [\n"
    scalar = write(tmp_path / "s.toml", 'features = "all"\n')
    with pytest.raises(FloxlsError, match="not a table"):
        enable_publish(scalar)
    assert scalar.read_text() == 'features = "all"\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "s.toml"]


def test_enable_publish_default_path_uses_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOX_CONFIG_DIR", str(tmp_path / "cfg"))
    assert enable_publish() == tmp_path / "cfg/flox.toml"
    assert (tmp_path / "cfg/flox.toml").exists()


def test_publish_disabled_fix_gives_both_ways():
    assert "features.publish = true" in PUBLISH_DISABLED_FIX
    assert "FLOX_FEATURES_PUBLISH=true" in PUBLISH_DISABLED_FIX
