"""Server capabilities as plain JSON, computed without pygls (for the fast `initialize`).

`server_capabilities(client, feature_modules)` must equal what pygls computes from the
registered features (`tests/test_lsp_capabilities.py` holds them equal for VS Code's and
Neovim's capabilities). A feature module that registers a new LSP method adds its fragment
to `MODULE_CAPABILITIES` below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SUPPORTED_ENCODINGS = ("utf-8", "utf-16", "utf-32")

# Executed by `workspace/executeCommand` (see CONTRACTS.md, language server).
PUBLISH_COMMANDS = [
    "floxls.publish",
    "floxls.explainBlocked",
    "floxls.enablePublish",
    "floxls.listTargets",
]

# What each feature module adds, as pygls' capability builder would write it.
MODULE_CAPABILITIES: dict[str, dict[str, Any]] = {
    "settings": {},
    "diagnostics": {
        "diagnosticProvider": {
            "identifier": "floxls",
            "interFileDependencies": False,
            "workspaceDiagnostics": False,
        }
    },
    "hover": {"hoverProvider": True},
    "completion": {"completionProvider": {"triggerCharacters": ["[", ".", '"']}},
    "symbols": {"documentSymbolProvider": True},
    "code_actions": {"codeActionProvider": {"codeActionKinds": ["quickfix"]}},
    "codelens": {"codeLensProvider": {"resolveProvider": False}},
    "publish_command": {},
    "commands": {},
    "git_state": {},
}
# Commands registered by feature modules (`@server.command`), by module.
MODULE_COMMANDS: dict[str, list[str]] = {"commands": PUBLISH_COMMANDS}


def get_path(data: object, *path: str) -> Any:
    """data[path[0]][path[1]]... or None when any step is missing or not an object."""
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def choose_position_encoding(client: Mapping[str, Any]) -> str:
    """The client's most preferred encoding that we support; UTF-16 when it offers none."""
    offered = get_path(client, "general", "positionEncodings")
    if isinstance(offered, list):
        for encoding in offered:
            if encoding in SUPPORTED_ENCODINGS:
                return str(encoding)
    return "utf-16"


def wants_pull_diagnostics(client: Mapping[str, Any]) -> bool:
    """Pull diagnostics only for clients that declare `textDocument.diagnostic`."""
    return isinstance(get_path(client, "textDocument", "diagnostic"), Mapping)


def server_capabilities(
    client: Mapping[str, Any], feature_modules: Iterable[str]
) -> dict[str, Any]:
    modules = list(feature_modules)
    caps: dict[str, Any] = {
        "positionEncoding": choose_position_encoding(client),
        "textDocumentSync": {
            "openClose": True,
            "change": 2,
            "willSave": False,
            "willSaveWaitUntil": False,
            "save": True,
        },
    }
    commands: list[str] = []
    for name in modules:
        for key, value in MODULE_CAPABILITIES.get(name, {}).items():
            caps[key] = value
        commands.extend(MODULE_COMMANDS.get(name, ()))
    caps["executeCommandProvider"] = {"commands": commands}
    caps["workspace"] = {
        "workspaceFolders": {"supported": True, "changeNotifications": True},
        "fileOperations": {},
    }
    if not wants_pull_diagnostics(client):
        caps.pop("diagnosticProvider", None)
    return caps
