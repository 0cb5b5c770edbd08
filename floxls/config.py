"""Layered settings, read the way Flox reads its own config.

Precedence, highest first: overrides (CLI flags, editor settings) > environment >
user ``flox.toml`` > system ``flox.toml``.

* user file: ``$FLOX_CONFIG_DIR/flox.toml``, else ``$XDG_CONFIG_HOME/flox/flox.toml``,
  else ``~/.config/flox/flox.toml``;
* system file: ``$FLOX_SYSTEM_CONFIG_DIR/flox.toml`` (an empty value disables it, as in
  Flox), else ``/etc/flox.toml``;
* environment: Flox maps ``FLOX_<KEY>`` onto top-level keys (``FLOX_FLOXHUB_TOKEN``,
  ``FLOX_FLOXHUB_URL``, ``FLOX_CATALOG_URL``) and ``FLOX_FEATURES_<NAME>`` onto
  ``features.<name>``; ``FLOX_FEATURE_PUBLISH`` is accepted as well.

Only the standard library and tomlkit (for `enable_publish`) are used, so the language
server can import this at start-up.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from floxls.errors import FloxlsError

DEFAULT_CATALOG_URL = "https://api.flox.dev"
DEFAULT_FLOXHUB_URL = "https://hub.flox.dev"
CONFIG_FILE_NAME = "flox.toml"
SYSTEM_CONFIG_DIR = Path("/etc")

ENV_TOKEN = "FLOX_FLOXHUB_TOKEN"
ENV_FLOXHUB_URL = "FLOX_FLOXHUB_URL"
ENV_CATALOG_URL = "FLOX_CATALOG_URL"
ENV_FEATURES_PUBLISH = "FLOX_FEATURES_PUBLISH"
ENV_FEATURE_PUBLISH = "FLOX_FEATURE_PUBLISH"  # the singular spelling, accepted too
ENV_CONFIG_DIR = "FLOX_CONFIG_DIR"
ENV_SYSTEM_CONFIG_DIR = "FLOX_SYSTEM_CONFIG_DIR"
ENV_DATA_DIR = "FLOXLS_DATA_DIR"

PUBLISH_DISABLED_FIX = (
    "set `features.publish = true` in your flox.toml (~/.config/flox/flox.toml, or run "
    "`flox config --set features.publish true`), or set the environment variable "
    "FLOX_FEATURES_PUBLISH=true"
)

OVERRIDE_KEYS = frozenset(
    {
        "store_url",
        "signing_key",
        "catalog_url",
        "floxhub_token",
        "floxhub_url",
        "publish_enabled",
        "data_dir",
    }
)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


@dataclass
class Settings:
    """Everything the publish pipeline and catalogs need to know from configuration."""

    store_url: str | None = None
    signing_key: Path | None = None
    publish_enabled: bool = False
    floxhub_token: str | None = field(default=None, repr=False)
    floxhub_url: str = DEFAULT_FLOXHUB_URL
    catalog_url: str = DEFAULT_CATALOG_URL
    data_dir: Path = field(default_factory=lambda: default_data_dir(os.environ))
    config_file: Path = field(default_factory=lambda: user_config_path(os.environ))

    def __repr__(self) -> str:
        from floxls.catalog.urls import strip_credentials

        store = strip_credentials(self.store_url) if self.store_url else None
        token = "'***'" if self.floxhub_token else "None"
        return (
            f"Settings(store_url={store!r}, signing_key={self.signing_key!r}, "
            f"publish_enabled={self.publish_enabled!r}, floxhub_token={token}, "
            f"floxhub_url={strip_credentials(self.floxhub_url)!r}, "
            f"catalog_url={strip_credentials(self.catalog_url)!r}, "
            f"data_dir={self.data_dir!r}, config_file={self.config_file!r})"
        )

    __str__ = __repr__


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def _xdg(environ: Mapping[str, str], var: str, fallback: str) -> Path:
    value = environ.get(var, "")
    # The XDG spec says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return _home(environ) / fallback


def user_config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The user's flox.toml (it may not exist)."""
    config_dir = environ.get(ENV_CONFIG_DIR, "")
    if config_dir:
        return Path(config_dir).expanduser() / CONFIG_FILE_NAME
    return _xdg(environ, "XDG_CONFIG_HOME", ".config") / "flox" / CONFIG_FILE_NAME


def system_config_path(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The system flox.toml, or None when `FLOX_SYSTEM_CONFIG_DIR` is set to ''."""
    if ENV_SYSTEM_CONFIG_DIR in environ:
        value = environ[ENV_SYSTEM_CONFIG_DIR]
        return Path(value) / CONFIG_FILE_NAME if value else None
    return SYSTEM_CONFIG_DIR / CONFIG_FILE_NAME


def default_data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """`$FLOXLS_DATA_DIR`, else `$XDG_DATA_HOME/floxls`, else `~/.local/share/floxls`."""
    value = environ.get(ENV_DATA_DIR, "")
    if value:
        return Path(value).expanduser()
    return _xdg(environ, "XDG_DATA_HOME", ".local/share") / "floxls"


def default_store_url(settings: Settings) -> str:
    """The store used with the local catalog when none is configured."""
    return (settings.data_dir / "cache").absolute().as_uri()


_LINE_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _read_toml(path: Path) -> dict[str, object] | None:
    """The parsed file, None when it does not exist; FloxlsError naming file:line if bad."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise FloxlsError(f"{path} is a directory, not a flox.toml file") from None
    except OSError as exc:
        raise FloxlsError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise FloxlsError(f"{path}: not valid UTF-8 text", fix=f"save {path} as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        text = str(exc)
        match = _LINE_RE.search(text)
        if match:
            line, col = match.group(1), f" (column {match.group(2)})"
        else:  # "(at end of document)": the last line
            line, col = str(max(1, len(data.decode("utf-8").splitlines()))), ""
        reason = _LINE_RE.sub("", text).replace("(at end of document)", "").strip()
        raise FloxlsError(
            f"{path}:{line}: invalid TOML{col}: {reason}",
            fix=f"correct line {line} of {path}",
        ) from None


def _get(doc: Mapping[str, object], dotted: str) -> object:
    node: object = doc
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _str_key(doc: Mapping[str, object], key: str, path: Path) -> str | None:
    value = _get(doc, key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FloxlsError(
            f"{path}: `{key}` must be a string, not {type(value).__name__}",
            fix=f'write it as {key} = "..." in {path}',
        )
    return value or None


def _bool_key(doc: Mapping[str, object], key: str, path: Path) -> bool | None:
    value = _get(doc, key)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise FloxlsError(
        f"{path}: `{key}` must be true or false",
        fix=f"write `{key} = true` (or false) in {path}",
    )


def _env_bool(environ: Mapping[str, str], name: str) -> bool | None:
    if name not in environ:
        return None
    value = environ[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FloxlsError(
        f"the environment variable {name} must be true or false",
        fix=f"export {name}=true (or false)",
    )


def _layer_from_file(path: Path) -> dict[str, object]:
    doc = _read_toml(path)
    if doc is None:
        return {}
    layer: dict[str, object] = {}
    store = _str_key(doc, "publish.store_url", path)
    if store is not None:
        layer["store_url"] = store
    key = _str_key(doc, "publish.signing_private_key", path)
    if key is None:
        key = _str_key(doc, "publish.signing_key", path)
    if key is not None:
        key_path = Path(key).expanduser()
        # A relative path in a config file means relative to that file.
        layer["signing_key"] = key_path if key_path.is_absolute() else path.parent / key_path
    enabled = _bool_key(doc, "features.publish", path)
    if enabled is not None:
        layer["publish_enabled"] = enabled
    for name in ("floxhub_token", "floxhub_url", "catalog_url"):
        value = _str_key(doc, name, path)
        if value is not None:
            layer[name] = value
    return layer


def _layer_from_env(environ: Mapping[str, str]) -> dict[str, object]:
    layer: dict[str, object] = {}
    for var, name in (
        (ENV_TOKEN, "floxhub_token"),
        (ENV_FLOXHUB_URL, "floxhub_url"),
        (ENV_CATALOG_URL, "catalog_url"),
    ):
        value = environ.get(var, "")
        if value:
            layer[name] = value
    enabled = _env_bool(environ, ENV_FEATURES_PUBLISH)
    if enabled is None:
        enabled = _env_bool(environ, ENV_FEATURE_PUBLISH)
    if enabled is not None:
        layer["publish_enabled"] = enabled
    return layer


def _layer_from_overrides(overrides: Mapping[str, object]) -> dict[str, object]:
    layer: dict[str, object] = {}
    for name, value in overrides.items():
        if name not in OVERRIDE_KEYS:
            raise ValueError(f"unknown settings override {name!r}")
        if value is None or value == "":
            continue
        if name in ("signing_key", "data_dir"):
            if not isinstance(value, str | os.PathLike):
                raise ValueError(f"override {name!r} must be a path")
            layer[name] = Path(value).expanduser()
        elif name == "publish_enabled":
            layer[name] = bool(value)
        else:
            if not isinstance(value, str):
                raise ValueError(f"override {name!r} must be a string")
            layer[name] = value
    return layer


def load_settings(
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] = os.environ,
    *,
    system_config: Path | bool | None = True,
) -> Settings:
    """Read settings from the layers; raises FloxlsError for a malformed flox.toml.

    `system_config`: True reads the system file located from `environ`
    (`$FLOX_SYSTEM_CONFIG_DIR`, else /etc/flox.toml); a Path reads that file; None or
    False reads none.
    """
    user_path = user_config_path(environ)
    if system_config is True:
        system_path = system_config_path(environ)
    elif isinstance(system_config, Path):
        system_path = system_config
    else:
        system_path = None

    merged: dict[str, object] = {}
    if system_path is not None:
        merged.update(_layer_from_file(system_path))
    merged.update(_layer_from_file(user_path))
    merged.update(_layer_from_env(environ))
    merged.update(_layer_from_overrides(overrides or {}))

    settings = Settings(data_dir=default_data_dir(environ), config_file=user_path)
    for name, value in merged.items():
        setattr(settings, name, value)
    settings.catalog_url = settings.catalog_url.rstrip("/")
    settings.floxhub_url = settings.floxhub_url.rstrip("/")
    return settings


def enable_publish(path: Path | None = None) -> Path:
    """Set `features.publish = true` in the user's flox.toml, keeping its formatting.

    Creates the file (and its directories) when missing. Returns the file's path.
    """
    import tomlkit
    from tomlkit.exceptions import ParseError

    target = path if path is not None else user_config_path(os.environ)
    _read_toml(target)  # a malformed file is reported with its line, before we touch it
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    try:
        doc = tomlkit.parse(text)
    except ParseError as exc:  # pragma: no cover - tomllib rejects these first
        raise FloxlsError(f"{target}:{exc.line}: invalid TOML") from None

    features = doc.get("features")
    if features is None:
        if doc.body and not text.endswith("\n\n"):
            doc.add(tomlkit.nl())
        table = tomlkit.table()
        table["publish"] = True
        doc["features"] = table
    elif isinstance(features, MutableMapping):
        features["publish"] = True
    else:
        raise FloxlsError(
            f"{target}: `features` is not a table",
            fix=f"remove the `features` key from {target}, then try again",
        )

    new_text = tomlkit.dumps(doc)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".flox.toml.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new_text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
