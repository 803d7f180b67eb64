"""A ``sys.meta_path`` finder and a loader for modules whose source lives on a client.

``RemoteMetaPathFinder.find_spec`` asks the client for a module with one
``fetch_module`` round trip; the answer carries both the spec data and the
source, so the ``RemoteModuleLoader`` it returns never talks to the network.
A client that was offered the ``prefetch`` capability may attach the modules
below a package to the package's answer (``"prefetched"``); the finder keeps
those briefly and serves the package's own imports from them, so importing a
package costs one round trip instead of one per module.

The loader behaves like CPython's source loaders as far as users can tell:
modules get ``__file__`` (the client's path), ``__path__`` for packages and
``__package__`` for relative imports, and the source is registered with
``linecache`` so tracebacks, ``linecache.getline`` and ``inspect.getsource``
show the client's lines even though the file does not exist on the worker.
"""

from __future__ import annotations

import linecache
import logging
import time
import posixpath
import ntpath
from importlib.abc import ExecutionLoader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType
from typing import Any, Optional, Sequence

from .json_rpc import INVALID_PARAMS, SOURCE_UNAVAILABLE, create_request_msg
from .plugin_object import PluginObject

__all__ = [
    "FETCH_MODULE_METHOD",
    "RemoteModuleDescriptor",
    "RemoteModuleLoader",
    "RemoteModuleSpec",
    "RemoteMetaPathFinder",
    "register_source_in_linecache",
]

logger = logging.getLogger(__name__)

FETCH_MODULE_METHOD = "fetch_module"

#: Seconds a prefetched module stays usable. Imports of a package's modules come in a burst right
#: after the package's own; past this, the module is asked for afresh, so a file edited during a
#: long run is served as it is on disk then, as without prefetching.
PREFETCH_TTL = 2.0


def _is_real_path(origin: Optional[str]) -> bool:
    """True for a file path, False for None or a pseudo-path such as ``<script>``.

    Only real paths become ``__file__`` (the reference's clients may answer
    ``<script>`` when a module has no file).
    """
    return bool(origin) and not (origin.startswith("<") and origin.endswith(">"))


def _path_module_for(path: str):
    """posixpath or ntpath, whichever fits the client's path.

    The client may run on Windows while the worker runs on Linux, so the
    worker's ``os.path`` is the wrong tool for the client's paths.
    """
    if "\\" in path and "/" not in path:
        return ntpath
    return posixpath


def register_source_in_linecache(filename: str, source: str) -> None:
    """Put ``source`` into ``linecache`` under ``filename``.

    The entry uses mtime None, the form linecache itself uses for sources
    obtained from a loader: ``linecache.checkcache`` leaves such entries alone
    (the file does not exist on the worker, so a stat would drop it), and
    ``getline(filename, n)`` works without module globals. Re-registering on
    every load keeps the cache in step with what the client served.
    """
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[filename] = (len(source), None, lines, filename)


class RemoteModuleDescriptor:
    """A validated, normalized ``fetch_module`` result.

    Two result shapes exist and both are accepted:

    * current: ``{"name", "origin", "is_package", "submodule_search_locations", "source"}``;
    * older (the reference's VS Code client): ``{"filepath", "source"}``, a
      package when the file is ``__init__.py``.

    A namespace package has neither origin nor source.
    """

    __slots__ = ("name", "origin", "source", "is_package", "submodule_search_locations")

    def __init__(
        self,
        name: str,
        origin: Optional[str],
        source: Optional[str],
        is_package: bool,
        submodule_search_locations: Optional[list[str]],
    ) -> None:
        self.name = name
        self.origin = origin
        self.source = source
        self.is_package = is_package
        self.submodule_search_locations = submodule_search_locations

    @property
    def is_namespace(self) -> bool:
        return self.origin is None and self.source is None

    @property
    def has_location(self) -> bool:
        return _is_real_path(self.origin)

    @classmethod
    def from_result(cls, fullname: str, result: Any) -> "RemoteModuleDescriptor":
        """Validate a non-null result; raise ValueError describing what is wrong."""
        if not isinstance(result, dict):
            raise ValueError(f"result must be an object, got {type(result).__name__}")

        name = result.get("name", fullname)
        if name is not None and name != fullname:
            # Serving another module's source under this name would be worse than failing.
            raise ValueError(f"the client answered for module {name!r}")

        source = result.get("source")
        if source is not None and not isinstance(source, str):
            raise ValueError("'source' must be a string or null")

        if "origin" not in result and "filepath" in result:
            origin = result.get("filepath")
            _check_optional_str(origin, "filepath")
            if origin is None and source is None:
                return cls(fullname, None, None, True, [])
            is_package = (
                origin is not None
                and _path_module_for(origin).basename(origin) == "__init__.py"
            )
            locations = None
            if is_package:
                locations = [_path_module_for(origin).dirname(origin)]
            return cls(fullname, origin, source if source is not None else "", is_package, locations)

        origin = result.get("origin")
        _check_optional_str(origin, "origin")
        locations = result.get("submodule_search_locations")
        if locations is not None and not (
            isinstance(locations, list) and all(isinstance(p, str) for p in locations)
        ):
            raise ValueError("'submodule_search_locations' must be a list of strings or null")
        is_package = result.get("is_package")
        if is_package is None:
            is_package = locations is not None
        elif not isinstance(is_package, bool):
            raise ValueError("'is_package' must be a boolean")

        if origin is None and source is None:
            # Namespace package: a __path__ and no file, like CPython's.
            return cls(fullname, None, None, True, list(locations or []))
        if is_package:
            if locations is None:
                locations = (
                    [_path_module_for(origin).dirname(origin)] if _is_real_path(origin) else []
                )
            return cls(fullname, origin, source if source is not None else "", True, list(locations))
        return cls(fullname, origin, source if source is not None else "", False, None)

    def __repr__(self) -> str:
        kind = "namespace" if self.is_namespace else ("package" if self.is_package else "module")
        return f"<RemoteModuleDescriptor {self.name!r} {kind} origin={self.origin!r}>"


def _check_optional_str(value: Any, field: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{field!r} must be a string or null")


class RemoteModuleSpec(ModuleSpec):
    """A ModuleSpec whose ``cached`` is always None.

    ``ModuleSpec.cached`` would otherwise derive a ``__pycache__`` path from
    the client's origin; no bytecode for remote modules is ever read or
    written, so advertising one would only mislead.
    """

    @property
    def cached(self) -> None:  # type: ignore[override]
        return None

    @cached.setter
    def cached(self, value: Any) -> None:
        pass


class RemoteModuleLoader(ExecutionLoader):
    """Loads one module from source the finder already fetched.

    Implements ``importlib.abc.InspectLoader`` / ``ExecutionLoader`` so that
    ``get_source`` (used by linecache and inspect), ``get_code`` (used by
    runpy) and ``is_package`` work. No bytecode is written: the source is not
    a file on this machine and may change on the client at any time.

    The constructor also accepts the reference's single ``source`` argument
    (``RemoteModuleLoader(source)``) for scripts that build loaders directly.
    """

    def __init__(
        self,
        source: Optional[str] = None,
        *,
        name: Optional[str] = None,
        origin: Optional[str] = None,
        is_package: bool = False,
    ) -> None:
        self.name = name
        self.origin = origin
        self.source = source
        self._is_package = is_package

    @classmethod
    def from_descriptor(cls, descriptor: RemoteModuleDescriptor) -> "RemoteModuleLoader":
        return cls(
            descriptor.source,
            name=descriptor.name,
            origin=descriptor.origin,
            is_package=descriptor.is_package,
        )

    # -- helpers -------------------------------------------------------------

    def _check_name(self, fullname: Optional[str]) -> str:
        """Refuse questions about other modules, as CPython's FileLoader does."""
        if fullname is None:
            fullname = self.name
        elif self.name is not None and fullname != self.name:
            raise ImportError(
                f"loader for {self.name!r} cannot handle {fullname!r}", name=fullname
            )
        return fullname  # type: ignore[return-value]

    @property
    def is_namespace(self) -> bool:
        return self.origin is None and self.source is None

    def _code_filename(self, fullname: Optional[str]) -> str:
        if self.origin:
            return self.origin
        return f"<remote {fullname or self.name or 'module'}>"

    # -- importlib.abc.Loader ------------------------------------------------

    def create_module(self, spec: ModuleSpec) -> None:
        """Use the default module creation."""
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Run the fetched source in the module's namespace.

        A namespace package has no code to run; like CPython's, it gets
        ``__file__ = None``. Modules with a file get ``__cached__ = None``:
        importlib only sets it when there is a bytecode path, and there never
        is one for remote source, but code may read the attribute directly.
        """
        if self.is_namespace:
            module.__file__ = None
            return
        if _is_real_path(self.origin) and getattr(module, "__cached__", None) is None:
            module.__cached__ = None
        code = self.get_code(module.__name__)
        exec(code, module.__dict__)

    # -- importlib.abc.InspectLoader -----------------------------------------

    def get_source(self, fullname: Optional[str] = None) -> str:
        """The decoded source the client sent ('' for a namespace package, as CPython)."""
        self._check_name(fullname)
        return self.source if self.source is not None else ""

    def get_code(self, fullname: Optional[str] = None) -> CodeType:
        """Compile the source with the client's path as filename.

        The source is registered with linecache first, so that a traceback
        for an error raised while the module body runs (or later, from any of
        its functions) shows the client's lines. ``dont_inherit`` keeps this
        package's ``from __future__`` flags out of user code. A SyntaxError
        propagates with ``filename`` = the client's path and the right line.
        """
        fullname = self._check_name(fullname)
        source = self.get_source(fullname)
        filename = self._code_filename(fullname)
        if _is_real_path(self.origin):
            register_source_in_linecache(filename, source)
        return compile(source, filename, "exec", dont_inherit=True)

    def is_package(self, fullname: Optional[str] = None) -> bool:
        self._check_name(fullname)
        return self._is_package or self.is_namespace

    # -- importlib.abc.ExecutionLoader ---------------------------------------

    def get_filename(self, fullname: Optional[str] = None) -> str:
        """The client's path of the module (ImportError when there is none)."""
        fullname = self._check_name(fullname)
        if not self.origin:
            raise ImportError(f"{fullname!r} has no file (namespace package)", name=fullname)
        return self.origin

    def __repr__(self) -> str:
        kind = "namespace" if self.is_namespace else ("package" if self._is_package else "module")
        return f"<RemoteModuleLoader {self.name!r} {kind} origin={self.origin!r}>"


def _describe_transport_failure(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return "timed out waiting for the client"
    if isinstance(exc, (ConnectionError, EOFError)):
        return "lost the connection to the client"
    if isinstance(exc, OSError):
        return "transport error"
    return "request to the client failed"


class RemoteMetaPathFinder(MetaPathFinder):
    """Finds modules of the current execution context on one connection's client.

    ``connection`` is any object with an ``id`` attribute and
    ``request_data_sync(request, timeout=None)`` returning the JSON-RPC
    response dict (success or error), e.g. ``MessageStream``. ``timeout`` is
    passed on to the connection when given; otherwise the connection's own
    default applies.

    How answers map to import outcomes:

    * not our module (other connection, or a name outside the context): None;
    * ``result`` null, or error -32602: None, so the import ends in the
      normal ModuleNotFoundError (or another finder supplies the module);
    * error -32010 (the source exists but cannot be served: undecodable, too
      large, unreadable): ImportError whose text is the client's message, which
      names the file and the problem, with ``path`` set to the file;
    * any other error code: ImportError naming the module, code and message;
    * a timeout, a lost connection or any other failure of the request:
      ImportError naming the module and the cause, raised ``from`` the cause;
    * a malformed result: ImportError describing what is wrong.

    Results listed in a package's ``"prefetched"`` are kept for ``prefetch_ttl``
    seconds and used once each, only for names below that package; a malformed
    one is dropped and its module asked for like any other. ``invalidate_caches``
    (``importlib.invalidate_caches()``) discards them; the worker does so at the
    start of every run, so a run never sees what an earlier run prefetched.
    """

    def __init__(
        self,
        connection: Any,
        plugin: PluginObject,
        *,
        timeout: Optional[float] = None,
        prefetch_ttl: float = PREFETCH_TTL,
    ) -> None:
        self._connection = connection
        self._plugin = plugin
        self.timeout = timeout
        self.prefetch_ttl = prefetch_ttl
        self._prefetched: dict[str, tuple[float, Any]] = {}

    @property
    def connection(self) -> Any:
        return self._connection

    @property
    def plugin(self) -> PluginObject:
        return self._plugin

    def _should_serve(self, fullname: str) -> bool:
        if self._connection is None or self._plugin is None:
            return False
        connection_id = getattr(self._connection, "id", None)
        if connection_id is None:
            # A connection that has not identified itself serves nothing.
            return False
        return self._plugin.is_sourced_by_plugin(fullname, connection_id)

    def _request(self, fullname: str) -> Any:
        request = create_request_msg(FETCH_MODULE_METHOD, {"module_name": fullname})
        try:
            if self.timeout is None:
                return self._connection.request_data_sync(request)
            return self._connection.request_data_sync(request, timeout=self.timeout)
        except Exception as exc:
            cause = _describe_transport_failure(exc)
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            logger.warning("fetch_module %s failed: %s (%s)", fullname, cause, detail)
            raise ImportError(
                f"cannot import {fullname!r} from the remote source: {cause} ({detail})",
                name=fullname,
            ) from exc

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]] = None,
        target: Optional[ModuleType] = None,
    ) -> Optional[ModuleSpec]:
        """Fetch ``fullname`` from the client when the execution context says so."""
        if not self._should_serve(fullname):
            return None

        spec = self._spec_from_prefetched(fullname)
        if spec is not None:
            return spec

        response = self._request(fullname)
        if not isinstance(response, dict) or not ("result" in response or "error" in response):
            raise ImportError(
                f"cannot import {fullname!r} from the remote source: "
                f"malformed response {response!r:.200}",
                name=fullname,
            )

        if response.get("error") is not None:
            error = response["error"]
            if not isinstance(error, dict):
                # Not a JSON-RPC error object (the reference's own test connections answer a
                # bare string for a module they lack): like the reference, "not found".
                logger.debug("client does not have %s: %r", fullname, error)
                return None
            code = error.get("code")
            message = error.get("message")
            if code == INVALID_PARAMS:
                logger.debug("client does not have %s: %s", fullname, message)
                return None
            if code == SOURCE_UNAVAILABLE and isinstance(message, str) and message:
                data = error.get("data")
                path = data.get("path") if isinstance(data, dict) else None
                raise ImportError(message, name=fullname, path=path if isinstance(path, str) else None)
            raise ImportError(
                f"cannot import {fullname!r} from the remote source: client error "
                f"{code}: {message}",
                name=fullname,
            )

        result = response.get("result")
        if result is None:
            logger.debug("client does not have %s", fullname)
            return None

        try:
            descriptor = RemoteModuleDescriptor.from_result(fullname, result)
        except ValueError as exc:
            raise ImportError(
                f"cannot import {fullname!r} from the remote source: malformed "
                f"fetch_module result: {exc}",
                name=fullname,
            ) from exc

        logger.debug("fetched %r", descriptor)
        if descriptor.is_package and isinstance(result.get("prefetched"), list):
            self._keep_prefetched(fullname, result["prefetched"])
        return self._spec_from_descriptor(descriptor)

    def _keep_prefetched(self, package: str, results: list) -> None:
        """Remember the results below ``package`` until they expire."""
        expires = time.monotonic() + self.prefetch_ttl
        prefix = package + "."
        for result in results:
            name = result.get("name") if isinstance(result, dict) else None
            if isinstance(name, str) and name.startswith(prefix):
                self._prefetched[name] = (expires, result)
            else:
                logger.debug("ignoring prefetched entry %.80r under %s", result, package)

    def _spec_from_prefetched(self, fullname: str) -> Optional[ModuleSpec]:
        """The spec for a kept result of ``fullname`` (used once), or None to ask the client."""
        kept = self._prefetched.pop(fullname, None)
        if kept is None:
            return None
        expires, result = kept
        if time.monotonic() > expires:
            return None
        try:
            descriptor = RemoteModuleDescriptor.from_result(fullname, result)
        except ValueError as exc:
            logger.warning("prefetched %s is malformed (%s); asking the client", fullname, exc)
            return None
        logger.debug("prefetched %r", descriptor)
        return self._spec_from_descriptor(descriptor)

    @staticmethod
    def _spec_from_descriptor(descriptor: RemoteModuleDescriptor) -> ModuleSpec:
        loader = RemoteModuleLoader.from_descriptor(descriptor)
        spec = RemoteModuleSpec(
            descriptor.name,
            loader,
            origin=descriptor.origin,
            is_package=descriptor.is_package,
        )
        # is_package=True made it []; put the client's directories in.
        spec.submodule_search_locations = (
            list(descriptor.submodule_search_locations or [])
            if descriptor.is_package
            else None
        )
        spec.has_location = descriptor.has_location
        spec.loader_state = None
        return spec

    def invalidate_caches(self) -> None:
        """Discard prefetched results: every import from now on asks the client afresh."""
        self._prefetched.clear()

    def __repr__(self) -> str:
        return f"<RemoteMetaPathFinder connection={getattr(self._connection, 'id', None)!r}>"
