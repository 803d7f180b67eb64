"""The worker's execution context: which connection sources which module names.

One ``PluginObject`` is shared by every session of a worker. A run sets the
context (a connection id plus top-level module names); each session's
``RemoteMetaPathFinder`` asks the plugin whether it may serve an import.

Differences from the reference plugin, on purpose:

* state lives on the instance (the reference keeps it in class attributes, so
  two plugin objects would share one context);
* every method takes a lock, because imports can run on one thread while the
  transport changes the context on another;
* changing the context evicts the modules of the old AND the new names from
  ``sys.modules``: the old ones must not be served from cache once their
  source has gone, and the new ones must not be served from a stale cache (a
  local module of the same name, or an earlier remote copy).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Optional

__all__ = ["PluginObject", "normalize_module_names", "name_is_under"]

logger = logging.getLogger(__name__)


def normalize_module_names(names: Any) -> frozenset[str]:
    """Turn what callers pass as "top-level names" into a frozenset of str.

    Accepts None (no names), a mapping (its keys: the reference's VS Code
    client sends a dict), or any iterable of strings such as a set, list or
    tuple. A bare string is rejected because iterating it would silently turn
    ``"pkg"`` into ``{"p", "k", "g"}``. Empty names are dropped: they can
    never name a module.
    """
    if names is None:
        return frozenset()
    if isinstance(names, (str, bytes)):
        raise TypeError(
            "top-level module names must be a collection of str, not a single "
            f"{type(names).__name__}"
        )
    if isinstance(names, Mapping):
        names = names.keys()
    if not isinstance(names, Iterable):
        raise TypeError(
            f"top-level module names must be a set, dict, list or tuple, not "
            f"{type(names).__name__}"
        )
    result = set()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"module name must be str, not {type(name).__name__}: {name!r}")
        if name:
            result.add(name)
    return frozenset(result)


def name_is_under(module_fullname: str, top_level_names: Iterable[str]) -> bool:
    """True when the name equals one of the names or is a submodule of one.

    The prefix test includes the dot, so ``foo`` covers ``foo.bar`` but not
    ``foobar``.
    """
    for top in top_level_names:
        if module_fullname == top or module_fullname.startswith(top + "."):
            return True
    return False


class PluginObject:
    """Holds the execution context shared by all sessions of a worker.

    Attributes:
        execution_context_connection_id: id of the connection whose client
            serves imports for the current run (None: no remote sourcing).
    """

    def __init__(self) -> None:
        # RLock: evict_module_cache is called while set_execution_context holds it.
        self._lock = threading.RLock()
        # The two attribute names below are the reference's; scripts that reset
        # them directly (as its tests do) keep working.
        self._execution_context_connection_id: Optional[str] = None
        self._top_level_module_fullnames: frozenset[str] = frozenset()

    # -- context -----------------------------------------------------------

    @property
    def execution_context_connection_id(self) -> Optional[str]:
        with self._lock:
            return self._execution_context_connection_id

    @execution_context_connection_id.setter
    def execution_context_connection_id(self, value: Optional[str]) -> None:
        with self._lock:
            self._execution_context_connection_id = value

    def set_execution_context(
        self, connection_id: Optional[str], top_level_module_fullnames: Any
    ) -> None:
        """Make ``connection_id``'s client the source of these top-level names.

        ``top_level_module_fullnames`` may be a set, a dict (its keys), a list,
        a tuple or None. Every module equal to or under any old or new name is
        removed from ``sys.modules`` first, so the next import of such a name
        goes through the finders again.
        """
        new_names = normalize_module_names(top_level_module_fullnames)
        with self._lock:
            old_names = frozenset(self._top_level_module_fullnames or ())
            evicted = self.evict_module_cache(old_names | new_names)
            self._execution_context_connection_id = connection_id
            self._top_level_module_fullnames = new_names
        logger.info(
            "execution context set: connection=%r names=%s (evicted %d modules)",
            connection_id,
            sorted(new_names),
            len(evicted),
        )

    def get_top_level_module_fullnames(self) -> set[str]:
        """Return a copy of the current top-level names (callers cannot mutate state)."""
        with self._lock:
            return set(self._top_level_module_fullnames or ())

    # -- queries -----------------------------------------------------------

    def is_sourced_by_plugin(
        self, module_fullname: str, connection_id: Optional[str] = None
    ) -> bool:
        """True when the module is one of the context's names or under one.

        When ``connection_id`` is given it must also equal the context's
        connection id; when it is None only the name is checked (this is how
        eviction asks "is this one of ours?").
        """
        with self._lock:
            if (
                connection_id is not None
                and connection_id != self._execution_context_connection_id
            ):
                return False
            return name_is_under(module_fullname, self._top_level_module_fullnames or ())

    def is_sourced_by_execution_context(
        self, module_fullname: str, connection_id: Optional[str]
    ) -> bool:
        """Like ``is_sourced_by_plugin`` but a connection id is required.

        A None id never matches, even when the context's id is None: a
        connection that has not identified itself serves nothing.
        """
        with self._lock:
            if connection_id is None or connection_id != self._execution_context_connection_id:
                return False
            return name_is_under(module_fullname, self._top_level_module_fullnames or ())

    # -- cache ---------------------------------------------------------------

    def evict_module_cache(self, names: Any = None) -> list[str]:
        """Remove modules equal to or under ``names`` from ``sys.modules``.

        With no names, the current context's names are used. Returns the
        evicted module names, sorted (the reference returns None; a list is a
        compatible superset and helps logging and tests).
        """
        with self._lock:
            if names is None:
                targets = frozenset(self._top_level_module_fullnames or ())
            else:
                targets = normalize_module_names(names)
            if not targets:
                return []
            # list(): sys.modules may be changed by other threads while we scan.
            evicted = [
                name for name in list(sys.modules) if name_is_under(name, targets)
            ]
            for name in evicted:
                sys.modules.pop(name, None)
        if evicted:
            logger.debug("evicted modules: %s", evicted)
        return sorted(evicted)

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"<PluginObject connection_id={self._execution_context_connection_id!r} "
                f"names={sorted(self._top_level_module_fullnames or ())}>"
            )
