"""The client's tree as the run's manifest describes it (spec9 "Manifest").

A ``Manifest`` is parsed once per run from the JSON the worker hands to ``set_run_tree`` and is
read-only afterwards, so every thread may use it without a lock. It answers the questions the
finder, the path hook and ``importlib.metadata`` ask: which files a directory of a root holds,
what a package's data files are, which entry index a file has.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["Entry", "Manifest", "ManifestError", "Root", "TreeConfig", "NATIVE_SUFFIXES"]

#: File name endings of native extensions: listed with sha null, never served.
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")


class ManifestError(ValueError):
    """The tree JSON is not what spec9 describes; the message says which part is wrong."""


@dataclass(frozen=True)
class Entry:
    """One listed file: its entry index (across roots), root number, relative path, size, sha."""

    index: int
    root: int
    rel: str
    size: int
    sha: Optional[str]

    @property
    def native(self) -> bool:
        return self.sha is None


@dataclass
class Root:
    """One root of the manifest: ``path`` is the client's, ``tree_dir`` where it is materialized."""

    number: int
    path: str
    kind: str
    tree_dir: str
    files: dict[str, Entry] = field(default_factory=dict)
    #: directory (relative, "" for the root) -> {child name: True for a directory, False a file}
    children: dict[str, dict[str, bool]] = field(default_factory=dict)

    def client_path(self, rel: str) -> str:
        """What ``co_filename``, tracebacks and linecache show for file ``rel`` of this root."""
        return self.path.rstrip("/\\") + "/" + rel if rel else self.path

    def local_path(self, rel: str) -> str:
        """Where file or directory ``rel`` of this root is materialized on the worker."""
        return os.path.join(self.tree_dir, *rel.split("/")) if rel else self.tree_dir

    def is_dir(self, rel: str) -> bool:
        return rel in self.children

    def is_regular_package(self, rel: str) -> bool:
        init = self.files.get(_join(rel, "__init__.py"))
        return init is not None and not init.native

    def data_files(self, package_rel: str) -> list[Entry]:
        """The files of package directory ``package_rel`` its code may read (spec9 rule).

        Every file under the directory except its own modules (``D/NAME.py``) and what lies in
        a regular subpackage, recursing through directories that are not regular packages;
        native extensions are left out (they are never served). ``__init__.py`` is included.
        """
        result: list[Entry] = []
        pending = [package_rel]
        while pending:
            directory = pending.pop()
            for name, is_dir in sorted(self.children.get(directory, {}).items()):
                rel = _join(directory, name)
                if is_dir:
                    if not self.is_regular_package(rel):
                        pending.append(rel)
                    continue
                entry = self.files[rel]
                if entry.native:
                    continue
                if directory == package_rel and name != "__init__.py" and _is_module_file(name):
                    continue
                result.append(entry)
        return result


@dataclass
class TreeConfig:
    """The run's tree: where it is materialized, the shared store, the reply limit, the manifest."""

    dir: str
    store: str
    max_reply_bytes: int
    manifest: "Manifest"

    @classmethod
    def from_json(cls, text: str) -> "TreeConfig":
        try:
            value = json.loads(text)
        except ValueError as error:
            raise ManifestError(f"the run's tree is not JSON: {error}") from error
        if not isinstance(value, dict):
            raise ManifestError("the run's tree must be a JSON object")
        directory = _require(value, "dir", str, "tree")
        store = _require(value, "store", str, "tree")
        max_reply = _require(value, "max_reply_bytes", int, "tree")
        if max_reply < 4:
            raise ManifestError(f"tree.max_reply_bytes must be at least 4, not {max_reply}")
        manifest = Manifest.from_value(_require(value, "manifest", dict, "tree"), directory)
        return cls(directory, store, max_reply, manifest)


class Manifest:
    """The parsed manifest: roots in search order and the entries by index."""

    def __init__(self, snapshot: str, roots: list[Root], entries: list[Entry]) -> None:
        self.snapshot = snapshot
        self.roots = roots
        self.entries = entries

    @classmethod
    def from_value(cls, value: dict, tree_dir: str) -> "Manifest":
        snapshot = _require(value, "snapshot", str, "manifest")
        raw_roots = _require(value, "roots", list, "manifest")
        roots: list[Root] = []
        entries: list[Entry] = []
        for number, raw in enumerate(raw_roots):
            where = f"manifest.roots[{number}]"
            if not isinstance(raw, dict):
                raise ManifestError(f"{where} must be an object")
            root = Root(
                number,
                _require(raw, "path", str, where),
                _require(raw, "kind", str, where),
                os.path.join(tree_dir, str(number)),
            )
            root.children[""] = {}
            for position, item in enumerate(_require(raw, "files", list, where)):
                entry = _entry(item, len(entries), number, f"{where}.files[{position}]")
                if entry.rel in root.files:
                    raise ManifestError(f"{where} lists {entry.rel!r} twice")
                root.files[entry.rel] = entry
                entries.append(entry)
                _add_to_listing(root, entry.rel)
            roots.append(root)
        return cls(snapshot, roots, entries)

    def locate(self, local_dir: str) -> Optional[tuple[Root, str]]:
        """The root and relative directory of a materialized directory (None: not in the tree)."""
        for root in self.roots:
            base = root.tree_dir
            if local_dir == base:
                return root, ""
            if local_dir.startswith(base + os.sep):
                rel = local_dir[len(base) + 1 :].replace(os.sep, "/")
                return (root, rel) if root.is_dir(rel) else None
        return None


def _entry(item: Any, index: int, root: int, where: str) -> Entry:
    if not (isinstance(item, list) and len(item) == 3):
        raise ManifestError(f"{where} must be [path, size, sha256 or null]")
    rel, size, sha = item
    if not isinstance(rel, str) or not _valid_rel(rel):
        raise ManifestError(f"{where} has an invalid relative path {rel!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{where} ({rel}) has an invalid size {size!r}")
    if sha is not None and not (
        isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)
    ):
        raise ManifestError(f"{where} ({rel}) has an invalid sha256 {sha!r}")
    return Entry(index, root, rel, size, sha)


def _valid_rel(rel: str) -> bool:
    if not rel or rel.startswith("/") or "\\" in rel or "\0" in rel:
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def _add_to_listing(root: Root, rel: str) -> None:
    parts = rel.split("/")
    directory = ""
    for part in parts[:-1]:
        root.children.setdefault(directory, {})[part] = True
        directory = _join(directory, part)
        root.children.setdefault(directory, {})
    root.children.setdefault(directory, {})[parts[-1]] = False


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _is_module_file(name: str) -> bool:
    return name.endswith(".py") and name[:-3].isidentifier()


def _require(value: dict, key: str, kind: type, where: str) -> Any:
    if key not in value:
        raise ManifestError(f"{where} has no {key!r}")
    item = value[key]
    if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
        raise ManifestError(f"{where}.{key} must be a {kind.__name__}, not {type(item).__name__}")
    return item
