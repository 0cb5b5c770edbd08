"""`.narinfo` files: what a binary cache knows about one store path."""

from __future__ import annotations

from dataclasses import dataclass, field

from floxls.nix import storepath

STORE_DIR = storepath.STORE_DIR


class NarInfoError(ValueError):
    """A narinfo file could not be parsed."""


@dataclass
class NarInfo:
    """One narinfo. `references` and `deriver` are basenames, as in the file;
    `file_hash`/`nar_hash` are `sha256:<nix32>`."""

    store_path: str
    url: str
    compression: str
    file_hash: str
    file_size: int
    nar_hash: str
    nar_size: int
    references: list[str] = field(default_factory=list)
    deriver: str | None = None
    sigs: list[str] = field(default_factory=list)
    ca: str | None = None

    def fingerprint(self) -> str:
        """What signatures sign: `1;<path>;<NarHash>;<NarSize>;<sorted full references>`."""
        if not self.nar_hash.startswith("sha256:"):
            raise NarInfoError(f"NarHash must be sha256:<nix32>, got {self.nar_hash!r}")
        refs = ",".join(sorted(f"{STORE_DIR}/{r}" for r in self.references))
        return f"1;{self.store_path};{self.nar_hash};{self.nar_size};{refs}"

    def render(self) -> str:
        """The narinfo text, fields in Nix's order."""
        lines = [
            f"StorePath: {self.store_path}",
            f"URL: {self.url}",
            f"Compression: {self.compression}",
            f"FileHash: {self.file_hash}",
            f"FileSize: {self.file_size}",
            f"NarHash: {self.nar_hash}",
            f"NarSize: {self.nar_size}",
            f"References: {' '.join(self.references)}",
        ]
        if self.deriver:
            lines.append(f"Deriver: {self.deriver}")
        lines.extend(f"Sig: {s}" for s in self.sigs)
        if self.ca:
            lines.append(f"CA: {self.ca}")
        return "\n".join(lines) + "\n"

    @property
    def hash_part(self) -> str:
        return storepath.hash_part(self.store_path)


_REQUIRED = ("StorePath", "URL", "NarHash", "NarSize")


def parse(text: str) -> NarInfo:
    """Parse narinfo text; NarInfoError when a required field is missing or malformed."""
    fields: dict[str, str] = {}
    sigs: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
            if not sep:
                raise NarInfoError(f"narinfo line {n} has no 'Key: value'")
        if key == "Sig":
            sigs.append(value)
        else:
            fields[key] = value
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise NarInfoError(f"narinfo lacks {', '.join(missing)}")

    def integer(key: str, default: int | None = None) -> int:
        raw = fields.get(key)
        if raw is None:
            if default is None:
                raise NarInfoError(f"narinfo lacks {key}")
            return default
        try:
            return int(raw)
        except ValueError:
            raise NarInfoError(f"narinfo {key} is not a number: {raw!r}") from None

    store_path = fields["StorePath"]
    if not storepath.is_store_path(store_path):
        raise NarInfoError(f"narinfo StorePath is not a store path: {store_path!r}")
    return NarInfo(
        store_path=store_path,
        url=fields["URL"],
        compression=fields.get("Compression", "bzip2"),
        file_hash=fields.get("FileHash", ""),
        file_size=integer("FileSize", 0),
        nar_hash=fields["NarHash"],
        nar_size=integer("NarSize"),
        references=fields.get("References", "").split(),
        deriver=fields.get("Deriver") or None,
        sigs=sigs,
        ca=fields.get("CA") or None,
    )
