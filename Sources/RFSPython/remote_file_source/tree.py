"""Turning the run's tree on and off in this interpreter (``worker.set_run_tree``).

While a run's tree is active, its ``TreeFinder`` is ``sys.meta_path[0]``, the connection's
``fetch_module`` finder is out of ``sys.meta_path`` (a name the manifest lacks then costs no round
trip), and a ``sys.path_hooks`` entry claims the tree's directories. A run host may serve many
runs (session or shared isolation): each run's ``set_run_tree`` replaces the previous tree;
modules already imported keep their loaders (their files stay until the daemon removes the old
run's directory).

State here is module-global and touched only by ``set_run_tree``, which the worker calls on
Python's main thread between runs; the path hook only reads ``_active`` (one reference, swapped
atomically under the GIL).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable, Optional

from .tree_finder import TreeFinder, TreePathEntryFinder
from .tree_manifest import TreeConfig

__all__ = ["active_finder", "path_hook", "run_stats", "set_run_tree", "take_store_lookups"]

_active: Optional[TreeFinder] = None
_hidden: list[Any] = []  # the fetch_module finders taken out of sys.meta_path, in their order


def active_finder() -> Optional[TreeFinder]:
    return _active


def run_stats() -> Optional[dict]:
    """What the active tree cost this run (``TreeFinder.stats``), or None without a tree: a run's
    script may print it (tests and ``scripts/bench-real`` do)."""
    finder = _active
    return None if finder is None else finder.stats()


def take_store_lookups() -> Optional[tuple[int, int]]:
    """The active tree's store hits and misses since the last call (each lookup is reported
    once, however many runs a tree finder lives through), or None without a tree."""
    finder = _active
    return None if finder is None else finder.fetcher.take_store_lookups()


def set_run_tree(
    connection: Any,
    plugin: Any,
    tree_json: Optional[str],
    hide: Iterable[Any] = (),
    timeout: Optional[float] = None,
) -> Optional[TreeFinder]:
    """Make ``tree_json`` (spec9's ``{"dir", "store", "max_reply_bytes", "manifest"}``) the tree
    imports are served from, or, with None, go back to ``fetch_module``.

    ``hide``: the finders to take out of ``sys.meta_path`` while the tree is active (the
    connection's ``fetch_module`` finder). Raises ``ManifestError`` for a malformed tree (and then
    leaves no tree active).
    """
    global _active
    _deactivate()
    if tree_json is None:
        return None
    config = TreeConfig.from_json(tree_json)
    finder = TreeFinder(config, connection, plugin, timeout)
    hidden = [f for f in hide if any(f is m for m in sys.meta_path)]
    sys.meta_path[:] = [m for m in sys.meta_path if not any(m is f for f in hidden)]
    _hidden[:] = hidden
    sys.meta_path.insert(0, finder)
    if not any(h is path_hook for h in sys.path_hooks):
        sys.path_hooks.insert(0, path_hook)
    _active = finder
    _forget_importers(config.dir)
    return finder


def _deactivate() -> None:
    global _active
    finder, _active = _active, None
    if finder is None:
        return
    finder.fetcher.close()
    sys.meta_path[:] = [m for m in sys.meta_path if m is not finder]
    for hidden in reversed(_hidden):
        if not any(m is hidden for m in sys.meta_path):
            sys.meta_path.insert(0, hidden)
    _hidden.clear()
    sys.path_hooks[:] = [h for h in sys.path_hooks if h is not path_hook]
    _forget_importers(finder.config.dir)


def _forget_importers(directory: str) -> None:
    """Drop ``sys.path_importer_cache`` entries of a tree's directories (stale after a switch)."""
    prefix = directory.rstrip(os.sep) + os.sep
    for key in [k for k in list(sys.path_importer_cache) if isinstance(k, str)]:
        if key == directory or key.startswith(prefix):
            sys.path_importer_cache.pop(key, None)


def path_hook(path: str) -> TreePathEntryFinder:
    """``sys.path_hooks`` entry: claims the active tree's directories (ImportError otherwise)."""
    finder = _active
    if finder is not None and isinstance(path, str):
        base = finder.config.dir.rstrip(os.sep)
        if path == base or path.startswith(base + os.sep):
            located = finder.manifest.locate(path)
            if located is None:
                return TreePathEntryFinder(None, "")
            return TreePathEntryFinder(*located)
    raise ImportError("not a directory of the run's tree", path=path)
