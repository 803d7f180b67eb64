"""Test doubles: a fake client connection that serves a folder held in memory.

``FakeConnection`` answers ``fetch_module`` the way the Swift client does (the
module index rules of DESIGN §4, simplified), from a dict of relative path →
source. Paths live under ``CLIENT_ROOT``, which never exists on the machine
running the tests, so every source line the tests see must have come through
the loader, not from the disk.
"""

from __future__ import annotations

import json
import posixpath
import threading
from typing import Any, Callable, Optional

CLIENT_ROOT = "/rfs-test-client/does-not-exist/src"

#: Every module a test creates starts with this prefix; the autouse fixture
#: removes them from sys.modules after each test.
PREFIX = "rfst_"


def client_path(relative: str) -> str:
    return posixpath.join(CLIENT_ROOT, relative)


def module_index(files: dict[str, str]) -> dict[str, dict]:
    """Module name → new-shape ``fetch_module`` result for an in-memory folder."""
    index: dict[str, dict] = {}
    directories: set[str] = set()
    for relative in files:
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            directories.add("/".join(parts[:depth]))
    for directory in sorted(directories):
        name = directory.replace("/", ".")
        init = f"{directory}/__init__.py"
        if init in files:
            index[name] = {
                "name": name,
                "origin": client_path(init),
                "is_package": True,
                "submodule_search_locations": [client_path(directory)],
                "source": files[init],
            }
        else:
            index[name] = {
                "name": name,
                "origin": None,
                "is_package": True,
                "submodule_search_locations": [client_path(directory)],
                "source": None,
            }
    for relative, source in files.items():
        if relative.endswith("/__init__.py") or not relative.endswith(".py"):
            continue
        name = relative[: -len(".py")].replace("/", ".")
        index.setdefault(
            name,
            {
                "name": name,
                "origin": client_path(relative),
                "is_package": False,
                "submodule_search_locations": None,
                "source": source,
            },
        )
    return index


def old_shape(result: Optional[dict]) -> Optional[dict]:
    """The reference VS Code client's ``{"filepath", "source"}`` shape."""
    if result is None:
        return None
    return {"filepath": result["origin"], "source": result["source"]}


class FakeConnection:
    """A connection with ``.id`` and ``request_data_sync`` answering from ``files``.

    Args:
        id: the connection id.
        files: relative path → source; read at request time, so tests can
            edit it between imports.
        shape: "new" or "old" result shape.
        responses: module name → a response body (``{"result": ...}`` or
            ``{"error": {...}}``) or an exception instance to raise.
        fail_with: an exception raised for every request (transport failure).
        prefetch: attach every module below a package to the package's result
            (``"prefetched"``), as the Swift client does for a worker that
            offers the ``prefetch`` capability.
    """

    def __init__(
        self,
        id: Optional[str] = "conn-1",
        files: Optional[dict[str, str]] = None,
        *,
        shape: str = "new",
        responses: Optional[dict[str, Any]] = None,
        fail_with: Optional[BaseException] = None,
        prefetch: bool = False,
    ) -> None:
        self.id = id
        self.files = dict(files or {})
        self.shape = shape
        self.responses = dict(responses or {})
        self.fail_with = fail_with
        self.prefetch = prefetch
        self.calls: list[str] = []
        self.requests: list[dict] = []
        self.timeouts: list[Optional[float]] = []

    def request_data_sync(self, request: dict, timeout: Optional[float] = None) -> dict:
        self.requests.append(request)
        self.timeouts.append(timeout)
        name = request["params"]["module_name"]
        self.calls.append(name)
        if self.fail_with is not None:
            raise self.fail_with
        if name in self.responses:
            canned = self.responses[name]
            if isinstance(canned, BaseException):
                raise canned
            return {"jsonrpc": "2.0", "id": request["id"], **canned}
        index = module_index(self.files)
        result = index.get(name)
        if self.prefetch and result is not None and result["is_package"]:
            below = [index[n] for n in sorted(index) if n.startswith(name + ".")]
            result = dict(result, prefetched=below)
        if self.shape == "old":
            result = old_shape(result)
        return {"jsonrpc": "2.0", "id": request["id"], "result": result}


class Outbox:
    """A ``send`` callable for MessageStream that records and signals messages.

    Tests wait on its condition variable for a message to arrive instead of
    sleeping.
    """

    def __init__(self, on_message: Optional[Callable[[Any], None]] = None) -> None:
        self.messages: list[Any] = []
        self.texts: list[str] = []
        self._cond = threading.Condition()
        self._on_message = on_message

    def __call__(self, text: str) -> None:
        assert isinstance(text, str)
        message = json.loads(text)
        with self._cond:
            self.texts.append(text)
            self.messages.append(message)
            self._cond.notify_all()
        if self._on_message is not None:
            self._on_message(message)

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        """Block until a sent message satisfies ``predicate``; return it."""
        found: list[Any] = []

        def check() -> bool:
            for message in self.messages:
                if predicate(message):
                    found.append(message)
                    return True
            return False

        with self._cond:
            if not self._cond.wait_for(check, timeout):
                raise AssertionError(f"no matching message within {timeout}s: {self.messages}")
        return found[0]

    @property
    def last(self) -> Any:
        with self._cond:
            return self.messages[-1]
