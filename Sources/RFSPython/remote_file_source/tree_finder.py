"""Importing from the client's tree: the meta path finder, its loader, the path hook and the
client's distributions (spec9 "Run host side").

Files are materialized into the run's tree directory (hard links of store blobs) when an import
needs them, so the modules are real files: ``__file__``, ``importlib.resources``,
``pkgutil.get_data`` and ``open(os.path.dirname(__file__) …)`` work as for an installed package,
while ``co_filename``, tracebacks and ``linecache`` show the client's paths.

Threads: imports may run on any thread. The manifest is read-only; fetching is serialised by the
``BlobFetcher``'s lock; materializing is idempotent and tolerates another thread (or process)
doing the same at once, so the finder needs no lock of its own.
"""

from __future__ import annotations

import _imp
import functools
import importlib.machinery
import importlib.util
import linecache
import logging
import os
import pathlib
import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from importlib.metadata import DistributionFinder, PathDistribution, Prepared
from typing import Any, Iterator, Optional

from .tree_fetch import BlobError, BlobFetcher
from .tree_manifest import NATIVE_SUFFIXES, Entry, Root, TreeConfig
from .tree_store import Store

__all__ = ["TreeFinder", "TreeLoader", "TreePathEntryFinder"]

logger = logging.getLogger(__name__)


class TreeFinder(MetaPathFinder):
    """Serves the execution context's names from the run's manifest (``sys.meta_path[0]``)."""

    def __init__(
        self, config: TreeConfig, connection: Any, plugin: Any, timeout: Optional[float] = None
    ) -> None:
        self.config = config
        self.manifest = config.manifest
        self.connection = connection
        self.plugin = plugin
        self.store = Store(config.store)
        self.fetcher = BlobFetcher(
            connection, self.manifest, self.store, config.max_reply_bytes, timeout
        )
        #: Modules whose code was compiled here, and taken from the store's code cache (GIL-held
        #: increments by the loaders of this tree): ``tree.run_stats()``.
        self.compiled = 0
        self.code_cache_hits = 0

    def stats(self) -> dict:
        """What this tree cost so far: round trips, blobs and bytes received, compiles, cache hits."""
        return {
            "requests": self.fetcher.requests,
            "blobs_received": self.fetcher.blobs_received,
            "bytes_received": self.fetcher.bytes_received,
            "seconds_waiting": round(self.fetcher.seconds_waiting, 6),
            "compiled": self.compiled,
            "code_cache_hits": self.code_cache_hits,
        }

    # -- finding ---------------------------------------------------------------------

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Optional[ModuleSpec]:
        connection_id = getattr(self.connection, "id", None)
        if connection_id is None or not self.plugin.is_sourced_by_plugin(fullname, connection_id):
            return None
        parent, _, name = fullname.rpartition(".")
        if parent:
            if path is None:
                return None
            locations = [found for found in map(self.manifest.locate, path) if found]
        else:
            locations = [(root, "") for root in self.manifest.roots]

        namespace: list[tuple[Root, str]] = []
        native: Optional[tuple[Root, str]] = None
        for root, directory in locations:
            package = _join(directory, name)
            is_namespace_here = False
            if root.is_dir(package):
                init = root.files.get(_join(package, "__init__.py"))
                if init is not None and not init.native:
                    return self._package_spec(fullname, root, package, init)
                if init is not None:
                    _refuse_withheld(fullname, root, init)
                found = _native_file(root, package, "__init__")
                if found is not None:
                    native = native or (root, found)
                else:
                    is_namespace_here = True
            module = root.files.get(_join(directory, name + ".py"))
            if module is not None and not module.native:
                return self._module_spec(fullname, root, module)
            if module is not None:
                _refuse_withheld(fullname, root, module)
            found = _native_file(root, directory, name)
            if found is not None:
                native = native or (root, found)
                continue
            if is_namespace_here:
                namespace.append((root, package))
        if native is not None and not parent and importlib.machinery.PathFinder.find_spec(fullname) is not None:
            # The worker has its own build of this top-level extension: what the error below
            # would advise is done, so the worker's copy is imported.
            return None
        if native is not None:
            # No ``name=``: importlib's ``from pkg import x`` swallows a ModuleNotFoundError
            # whose name is the submodule's, and this explanation would be lost.
            root, rel = native
            raise ModuleNotFoundError(
                f"cannot import {fullname!r}: {root.client_path(rel)} is a native extension; rfs "
                "serves only Python source — install the package on the worker",
                path=root.client_path(rel),
            )
        if namespace:
            for root, package in namespace:
                self._materialize(fullname, root, root.data_files(package))
                os.makedirs(root.local_path(package), exist_ok=True)
            spec = ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [root.local_path(p) for root, p in namespace]
            return spec
        return None

    def _module_spec(self, fullname: str, root: Root, entry: Entry) -> ModuleSpec:
        self._materialize(fullname, root, [entry])
        location = root.local_path(entry.rel)
        loader = TreeLoader(fullname, location, self, root, entry)
        return importlib.util.spec_from_file_location(fullname, location, loader=loader)

    def _package_spec(self, fullname: str, root: Root, package: str, init: Entry) -> ModuleSpec:
        self._materialize(fullname, root, root.data_files(package))
        location = root.local_path(init.rel)
        loader = TreeLoader(fullname, location, self, root, init)
        return importlib.util.spec_from_file_location(
            fullname, location, loader=loader, submodule_search_locations=[root.local_path(package)]
        )

    def _materialize(self, fullname: str, root: Root, entries: list[Entry]) -> None:
        """Fetch what the store lacks and link every entry into the tree; ImportError if not."""
        for attempt in (1, 2):
            try:
                self.fetcher.ensure(entries)
            except BlobError as error:
                client_path = self.manifest.roots[error.entry.root].client_path(error.entry.rel)
                raise ImportError(
                    f"cannot import {fullname!r}: {client_path}: {error.reason}", name=fullname
                ) from None
            try:
                for entry in entries:
                    if entry.sha is not None:
                        self.store.link(entry.sha, root.local_path(entry.rel))
                return
            except FileNotFoundError:
                if attempt == 2:  # evicted twice in a row: give up with the reason
                    raise
            except OSError as error:
                raise ImportError(
                    f"cannot import {fullname!r}: materializing its files in "
                    f"{root.tree_dir} failed: {error}",
                    name=fullname,
                ) from error

    def invalidate_caches(self) -> None:
        """Nothing is cached beyond the manifest, which does not change during a run."""

    # -- importlib.metadata ----------------------------------------------------------

    def find_distributions(self, context: Any = DistributionFinder.Context()) -> Iterator:
        """The client's ``*.dist-info`` / ``*.egg-info`` matching ``context.name`` (all: None).

        Only for the default search path (the client's roots act like entries in front of
        ``sys.path``). The small files metadata lookups read (``METADATA``,
        ``entry_points.txt``, …: the directory's own files but ``RECORD``) are materialized
        before the distributions are returned, in one batched fetch for all of them; the rest
        (``RECORD``, ``licenses/``) when a ``TreeDistribution`` is asked for it, so
        ``entry_points()`` over every distribution does not bring every ``RECORD``.
        """
        if context.path is not sys.path:
            return iter(())
        wanted = Prepared.normalize(context.name) if context.name is not None else None
        found: list[tuple[Root, str]] = []
        for root in self.manifest.roots:
            for child, is_dir in root.children.get("", {}).items():
                low = child.lower()
                if not is_dir or not low.endswith((".dist-info", ".egg-info")):
                    continue
                name = Prepared.normalize(low.rpartition(".")[0].partition("-")[0])
                if wanted is None or name == wanted:
                    found.append((root, child))
        if not found:
            return iter(())
        label = f"distribution {context.name or '(all)'}"
        # The directory's own files from the manifest's listing (entry_points() over every
        # distribution runs this often: no walk over the root's files).
        files = [
            (root, root.files[f"{d}/{name}"]) for root, d in found
            for name, is_dir in root.children.get(d, {}).items()
            if not is_dir and name not in _READ_ON_DEMAND and root.files[f"{d}/{name}"].sha is not None
        ]
        try:
            self.fetcher.ensure(entry for _, entry in files)
        except BlobError as error:
            client_path = self.manifest.roots[error.entry.root].client_path(error.entry.rel)
            raise ImportError(f"cannot read {label}: {client_path}: {error.reason}") from None
        for root, entry in files:
            self.store.link(entry.sha, root.local_path(entry.rel))
        distributions = []
        for root, d in found:
            os.makedirs(root.local_path(d), exist_ok=True)
            distributions.append(TreeDistribution(self, root, d))
        return iter(distributions)

    def materialize_file(self, root: Root, rel: str) -> bool:
        """Bring file ``rel`` of ``root`` into the tree; False when the manifest lacks it."""
        entry = root.files.get(rel)
        if entry is None or entry.sha is None:
            return False
        try:
            self.fetcher.ensure([entry])
        except BlobError as error:
            raise ImportError(f"cannot read {root.client_path(rel)}: {error.reason}") from None
        self.store.link(entry.sha, root.local_path(rel))
        return True

    def __repr__(self) -> str:
        return f"<TreeFinder {self.manifest.snapshot!r} dir={self.config.dir!r}>"


class TreeLoader(importlib.machinery.SourceFileLoader):
    """Loads a materialized module: a real file, with the client's path in its code.

    Being a ``SourceFileLoader`` gives ``get_data``, ``get_source``, the resource reader and
    ``exec_module`` (whose ``_call_with_frames_removed`` hides importlib's frames) for free;
    only ``get_code`` differs: the code comes from the store's code cache, keyed by the blob's
    sha256, and never from ``__pycache__`` beside the tree file.
    """

    def __init__(self, fullname: str, path: str, finder: TreeFinder, root: Root, entry: Entry):
        super().__init__(fullname, path)
        self._store = finder.store
        self._finder = finder
        self._sha = entry.sha
        self.client_path = root.client_path(entry.rel)

    def get_code(self, fullname: Optional[str] = None):
        fullname = self.name if fullname is None else fullname
        linecache.cache[self.client_path] = (functools.partial(self.get_source, fullname),)
        code = self._store.read_code(self._sha)
        if code is not None:
            _imp._fix_co_filename(code, self.client_path)
            self._finder.code_cache_hits += 1
            return code
        data = self.get_data(self.path)
        code = compile(data, self.client_path, "exec", dont_inherit=True)
        self._finder.compiled += 1
        self._store.write_code(self._sha, code)
        return code

    def set_data(self, path, data, *, _mode=0o666):
        """Never write ``__pycache__`` into the tree: code is cached in the store."""


class TreePathEntryFinder:
    """What the path hook gives for a tree directory: the manifest's listing for pkgutil.

    ``find_spec`` finds nothing: the ``TreeFinder`` decides what the tree serves, and a name it
    declined must not be found by a ``FileFinder`` among the materialized files either.
    """

    def __init__(self, root: Optional[Root], directory: str) -> None:
        self.root = root
        self.directory = directory

    def find_spec(self, fullname: str, target: Any = None) -> None:
        return None

    def invalidate_caches(self) -> None:
        pass

    def iter_modules(self, prefix: str = "") -> Iterator[tuple[str, bool]]:
        """``(prefix + name, is_package)`` like pkgutil's listing of a FileFinder directory."""
        if self.root is None:
            return
        seen = set()
        for name, is_dir in sorted(self.root.children.get(self.directory, {}).items()):
            if is_dir:
                module = name
                if not (name.isidentifier() and self.root.is_regular_package(_join(self.directory, name))):
                    continue
            elif name.endswith(".py") and name[:-3].isidentifier() and name != "__init__.py":
                module = name[:-3]
            else:
                continue
            if module not in seen:
                seen.add(module)
                yield prefix + module, is_dir


#: Files of a ``.dist-info`` fetched only when read: big, and read by few (``files()``).
_READ_ON_DEMAND = frozenset({"RECORD", "SOURCES.txt"})


class TreeDistribution(PathDistribution):
    """A client's distribution in the run's tree: a file not yet materialized is fetched when
    ``importlib.metadata`` reads it (``read_text``), so every file reads as it does locally."""

    def __init__(self, finder: TreeFinder, root: Root, directory: str) -> None:
        super().__init__(pathlib.Path(root.local_path(directory)))
        self._finder = finder
        self._root = root
        self._directory = directory

    def read_text(self, filename):
        rel = f"{self._directory}/{filename}"
        if not os.path.exists(self._root.local_path(rel)):
            self._finder.materialize_file(self._root, rel)
        return super().read_text(filename)


def _refuse_withheld(fullname: str, root: Root, entry: Entry) -> None:
    """ImportError for Python source listed without a sha256: the client withheld it, being
    over its per-file limit (``--max-file-size``); importing it must say so, not "No module"."""
    path = root.client_path(entry.rel)
    raise ImportError(
        f"cannot import {fullname!r}: {path} is {_size_text(entry.size)}, over the client's "
        "per-file limit (--max-file-size); the client does not serve it",
        name=fullname,
        path=path,
    )


def _size_text(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit} ({size} bytes)"
    return f"{size} bytes"


def _native_file(root: Root, directory: str, name: str) -> Optional[str]:
    """The relative path of a native extension ``name.*.so`` (etc.) in ``directory``, if any."""
    for child, is_dir in root.children.get(directory, {}).items():
        if is_dir or not child.endswith(NATIVE_SUFFIXES) or child.split(".", 1)[0] != name:
            continue
        entry = root.files[_join(directory, child)]
        if entry.native:
            return entry.rel
    return None


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name
