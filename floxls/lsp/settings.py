"""Editor settings: from `initializationOptions` and `workspace/didChangeConfiguration`.

Shape (after `normalize`): `{"publish": {"storeUrl": str|None, "signingKey": str|None},
"catalog": {"url": str|None}, "trusted": bool}`, plus any other keys the editor sent. Input
may be wrapped as `{"floxls": {...}}`. No reliance on `workspace/configuration`.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer

log = logging.getLogger(__name__)

_STRING_KEYS: dict[str, tuple[str, ...]] = {
    "publish": ("storeUrl", "signingKey"),
    "catalog": ("url",),
}


def default_settings() -> dict[str, Any]:
    return {
        "publish": {"storeUrl": None, "signingKey": None},
        "catalog": {"url": None},
        # Trust is the editor's to withhold (VS Code's restricted mode sends false);
        # editors without the notion, like Neovim, are trusted.
        "trusted": True,
    }


def unwrap(raw: object) -> dict[str, Any] | None:
    """The floxls part of what an editor sent, or None when it sent nothing usable."""
    if not isinstance(raw, dict):
        return None
    inner = raw.get("floxls")
    if isinstance(inner, dict):
        return inner
    return raw


def merge(current: dict[str, Any], raw: object) -> dict[str, Any]:
    """`current` updated with the editor's `raw` settings (deep merge), normalised.

    Values of the wrong type are ignored (and logged), keeping the current value; `null`
    or "" clears a value.
    """
    new = unwrap(raw)
    result = copy.deepcopy(current)
    if new is not None:
        _deep_merge(result, _clean(new))
    return normalize(result)


def _clean(new: dict[str, Any]) -> dict[str, Any]:
    """`new` without the known settings that have the wrong type."""
    out: dict[str, Any] = {}
    for key, value in new.items():
        if not isinstance(key, str):
            continue
        if key in _STRING_KEYS:
            if value == []:
                # Lua has one empty table: Neovim sends `publish = {}` (every setting
                # commented out, as in the README's snippet) as a JSON array.
                value = {}
            if not isinstance(value, dict):
                log.warning("ignoring setting %s: not an object", key)
                continue
            section: dict[str, Any] = {}
            for name, item in value.items():
                if name in _STRING_KEYS[key] and not (item is None or isinstance(item, str)):
                    log.warning("ignoring setting %s.%s: not a string", key, name)
                    continue
                section[name] = item or None if name in _STRING_KEYS[key] else item
            out[key] = section
        elif key == "trusted" and not isinstance(value, bool):
            log.warning("ignoring setting trusted: not true/false")
        else:
            out[key] = value
    return out


def _deep_merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def normalize(settings: dict[str, Any]) -> dict[str, Any]:
    """Every known key present (defaults filled in), wrong types replaced by defaults."""
    base = default_settings()
    out: dict[str, Any] = {k: v for k, v in settings.items() if k not in base}
    for section, keys in _STRING_KEYS.items():
        given = settings.get(section)
        target: dict[str, Any] = dict(base[section])
        if isinstance(given, dict):
            for key, value in given.items():
                if key not in keys or value is None or isinstance(value, str):
                    target[key] = value or None if key in keys else value
        out[section] = target
    trusted = settings.get("trusted", base["trusted"])
    out["trusted"] = trusted if isinstance(trusted, bool) else base["trusted"]
    return out


def register(server: FloxServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(
        ls: FloxServer, params: types.DidChangeConfigurationParams
    ) -> None:
        if params.settings is None:
            return
        ls.update_settings(params.settings)
