"""Child processes of a run host: ``sys.executable``, ``multiprocessing`` and fork.

A run host embeds CPython and runs a client's script in a fresh ``__main__`` whose ``__file__``
is the client's path (not a file on this machine); the client's modules are importable only in
the host process, through ``RemoteMetaPathFinder``. Child processes cannot use that finder:

* a *forked* child (``fork`` start method, the default on Linux, ``os.fork``) inherits every
  module the run already imported, including ``__main__`` and client modules, so it can run the
  script's functions. What it must not do is talk on the host's private channels: its
  ``sys.stdout``/``sys.stderr`` become plain text streams over fd 1 and 2 (whose content reaches
  the client), client modules it has not inherited fail to import with a clear ImportError, and
  the host's private descriptors are pointed at /dev/null.
* a *spawned* child (``spawn`` and ``forkserver``) is a fresh interpreter started from
  ``sys.executable``. It can import only what the plain interpreter finds on the worker. Two
  things make it usable: ``sys.executable`` is a real interpreter of the embedded one's version,
  and the child is never told to run the client's script (``init_main_from_path`` in
  multiprocessing's preparation data), which does not exist here and would kill every child at
  start-up (``multiprocessing.Pool`` then respawns workers forever). Anything that refers to
  the client's code (a function or class of the script or of a client module, also inside
  arguments, initializers or instances) is refused *when it is pickled in the host*, with an
  error that says what to do, so the parent gets an exception instead of a hang.

Hooks into CPython 3.11's multiprocessing, from most to least documented:

* ``multiprocessing.set_executable`` (documented) for the interpreter spawned children run.
* ``ForkingPickler.reducer_override``: the documented ``pickle.Pickler`` hook, set on
  multiprocessing's pickler class, and only once a spawn/forkserver process has been started
  (before that no pickle can reach a fresh interpreter, so fork-only programs pay nothing).
* ``multiprocessing.spawn.get_preparation_data`` is wrapped (see ``_get_preparation_data``).
* ``multiprocessing.spawn.get_executable`` is wrapped; the wrapper only acts when no
  interpreter was found (see ``_get_executable_or_explain``).

``os.register_at_fork`` runs ``_before_fork`` / ``_after_fork_in_child``.

The worker calls ``install`` once, ``begin_run``/``end_run`` around every run; see their
docstrings.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import sys
import threading
import types
import weakref
from importlib.abc import MetaPathFinder
from pickle import PicklingError
from typing import Callable, Iterable, Optional

from .module_loader import RemoteMetaPathFinder, RemoteModuleLoader, RemoteModuleSpec
from .plugin_object import name_is_under

__all__ = [
    "ClientCodePicklingError",
    "ForkedChildImportGuard",
    "begin_run",
    "end_run",
    "find_python_executable",
    "in_forked_child",
    "install",
    "python_executable",
]

logger = logging.getLogger(__name__)


class ClientCodePicklingError(PicklingError):
    """Client code (the run's script or a client module) was sent to a fresh interpreter."""


class _State:
    """Everything this module keeps; one instance, reset per run where documented."""

    def __init__(self) -> None:
        self.installed = False
        self.host_pid: Optional[int] = None
        # The interpreter spawned children run ("" when none was found) and why none was found.
        self.executable: Optional[str] = None
        self.missing_message: Optional[str] = None
        self.after_fork_in_child: Optional[Callable[[], None]] = None
        self.detach_fds: tuple[int, ...] = ()
        # Per run.
        self.run_main: Optional[types.ModuleType] = None
        self.run_streams: dict[int, object] = {}
        # Set by _before_fork, read in the child: the top-level names each client finder serves.
        self.fork_snapshot: tuple[frozenset[str], ...] = ()
        # Connections pickled into spawn/forkserver children: what is sent on them later
        # (Pool tasks, ProcessPoolExecutor call items, user queues) is read by such a child.
        self.fresh_channels: "weakref.WeakKeyDictionary[object, str]" = weakref.WeakKeyDictionary()
        self.armed = False
        self.lock = threading.Lock()


_state = _State()

# The stdlib functions replaced here (the wrappers call them), so each is replaced only once.
_originals: dict[str, object] = {}


# -- the interpreter --------------------------------------------------------------------------


def _version_tag(version_info=None) -> str:
    info = version_info or sys.version_info
    return f"{info[0]}.{info[1]}"


def _probe_version(path: str, timeout: float = 10.0) -> Optional[str]:
    """``major.minor`` reported by running ``path`` (None when it does not run)."""
    try:
        import subprocess  # only for an interpreter whose name does not say its version

        completed = subprocess.run(
            [path, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except Exception:  # OSError, subprocess.TimeoutExpired, ...: not a usable interpreter
        return None
    if completed.returncode != 0:
        return None
    return completed.stdout.decode("ascii", "replace").strip()


def _is_interpreter_of_version(path: str, tag: str) -> bool:
    """True when ``path`` is an executable file running Python ``tag`` (``"3.11"``).

    A file named ``python3.11`` is taken at its name (no process is started); any other name
    is run once to ask for its version.
    """
    if not path or not os.path.isabs(path):
        return False
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return False
    if os.path.basename(path) == f"python{tag}":
        return True
    return _probe_version(path) == tag


def _candidates(explicit: Optional[str], search: bool, tag: str) -> list[str]:
    found: list[str] = []

    def add(path) -> None:
        if path and path not in found:
            found.append(os.fspath(path))

    add(explicit)
    if search:
        major = tag.split(".")[0]
        directories = []
        for prefix in (sys.base_prefix, sys.base_exec_prefix):
            if prefix:
                directories.append(os.path.join(prefix, "bin"))
        import sysconfig

        bindir = sysconfig.get_config_var("BINDIR")
        if bindir:
            directories.append(bindir)
        for directory in directories:
            add(os.path.join(directory, f"python{tag}"))
        for directory in directories:
            add(os.path.join(directory, f"python{major}"))
        add(sys.executable)
        for directory in os.get_exec_path():
            if directory and os.path.isabs(directory):
                add(os.path.join(directory, f"python{tag}"))
    return found


def find_python_executable(
    explicit: Optional[str] = None, *, search: bool = True, version_info=None
) -> tuple[Optional[str], list[str]]:
    """The first real interpreter of the embedded version, and the candidates looked at.

    Candidates in order: ``explicit``; then (with ``search``) ``python{M}.{m}`` and
    ``python{M}`` in ``sys.base_prefix/bin``, ``sys.base_exec_prefix/bin`` and sysconfig's
    BINDIR; the current ``sys.executable``; ``python{M}.{m}`` on PATH. Returns ``(None,
    candidates)`` when none is an executable file of the same major.minor.
    """
    tag = _version_tag(version_info)
    candidates = _candidates(explicit, search, tag)
    for candidate in candidates:
        if _is_interpreter_of_version(candidate, tag):
            return candidate, candidates
    return None, candidates


def python_executable() -> Optional[str]:
    """The interpreter spawned children run, or None when none was found (or not installed)."""
    return _state.executable or None


def _apply_executable() -> None:
    """Put the chosen interpreter into ``sys.executable`` and multiprocessing."""
    import multiprocessing.spawn as spawn

    executable = _state.executable or ""
    sys.executable = executable
    if hasattr(sys, "_base_executable"):
        sys._base_executable = executable  # what venv and friends start
    spawn.set_executable(executable)


def _get_executable_or_explain():
    """``multiprocessing.spawn.get_executable``, explaining when no interpreter was found.

    Every fresh interpreter multiprocessing starts (spawn children, the forkserver, the
    resource tracker) takes its path from ``spawn.get_executable()``; with nothing found it
    is empty and the start would fail with "No such file or directory: ''". This says why
    instead. An executable the script sets with ``multiprocessing.set_executable`` is used.
    """
    executable = _originals["get_executable"]()
    if not executable and _state.missing_message:
        raise RuntimeError(_state.missing_message)
    return executable


# -- spawn and forkserver ---------------------------------------------------------------------


def _main_is_client_script() -> bool:
    main = sys.modules.get("__main__")
    return main is not None and main is _state.run_main


def _get_preparation_data(name):
    """``multiprocessing.spawn.get_preparation_data`` without the client's script.

    Why a patch: what a spawn/forkserver child does before it unpickles its process object is
    decided by this dict alone, and there is no hook for it. For a run's ``__main__`` the dict
    would say ``init_main_from_path=<client's path>`` and every child would try to run that
    file (it does not exist here, or if it does it is not what the client sent) and die, so
    the entries that make a child re-run ``__main__`` are dropped while the run's module is
    ``__main__``. Children then start with their own ``__main__``, and the pickling check
    (armed here, before the caller pickles anything for the child) refuses the script's
    functions with a clear error. Everything else (sys.path, cwd, authkey, ...) is unchanged.
    """
    _arm()
    data = _originals["get_preparation_data"](name)
    if _main_is_client_script():
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


def _arm() -> None:
    """Install the pickling check on multiprocessing's pickler (once)."""
    if _state.armed:
        return
    from multiprocessing.reduction import ForkingPickler

    with _state.lock:
        if _state.armed:
            return
        previous = ForkingPickler.__dict__.get("reducer_override")
        _originals["reducer_override"] = previous
        if previous is None:
            ForkingPickler.reducer_override = _reducer_override
        else:  # someone else's hook: run ours, then theirs
            def chained(self, obj, _previous=previous):
                result = _reducer_override(self, obj)
                if result is NotImplemented:
                    return _previous(self, obj)
                return result

            ForkingPickler.reducer_override = chained
        _state.armed = True


@functools.lru_cache(maxsize=None)
def _channel_frames():
    """Code objects of the stdlib functions that pickle for a pipe, and how to get the pipe.

    Pool tasks are pickled in ``_ConnectionBase.send`` (the pool's ``_quick_put``),
    ProcessPoolExecutor call items and ``Queue.put`` objects in ``Queue._feed`` (the feeder
    thread), ``SimpleQueue.put`` objects there.
    """
    from multiprocessing import connection, queues

    table = {}
    send = getattr(getattr(connection, "_ConnectionBase", None), "send", None)
    if send is not None:
        table[send.__code__] = lambda f: f.f_locals.get("self")
    feed = getattr(queues.Queue, "_feed", None)
    if feed is not None:
        table[feed.__code__] = lambda f: getattr(f.f_locals.get("send_bytes"), "__self__", None)
    put = getattr(queues.SimpleQueue, "put", None)
    if put is not None:
        table[put.__code__] = lambda f: getattr(f.f_locals.get("self"), "_writer", None)
    return table


_trial = threading.local()  # .method: set while ``_checked_submit`` test-pickles a call


def _fresh_interpreter_destination() -> Optional[str]:
    """'spawn' or 'forkserver' when what is being pickled goes to such a child, else None."""
    from multiprocessing import context

    method = getattr(_trial, "method", None)
    if method is not None:
        return method

    popen = context.get_spawning_popen()
    if popen is not None:  # pickling a process object in Popen._launch
        return getattr(popen, "method", "spawn")
    table = _channel_frames()
    frame = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            break
        get_channel = table.get(frame.f_code)
        if get_channel is not None:
            channel = get_channel(frame)
            if channel is None:
                return None
            return _state.fresh_channels.get(channel)
        frame = frame.f_back
    return None


def _lookup(module: types.ModuleType, qualname: str):
    try:
        return functools.reduce(getattr, qualname.split("."), module)
    except AttributeError:
        return None


def _is_client_module(module) -> bool:
    from .tree_finder import TreeLoader  # served from the run's tree (DESIGN.md §7)

    loader = getattr(module, "__loader__", None)
    return isinstance(loader, (RemoteModuleLoader, TreeLoader)) or isinstance(
        getattr(module, "__spec__", None), RemoteModuleSpec
    )


def _client_definition(obj):
    """``(kind, module name, module)`` when pickle would send ``obj`` by reference to client code."""
    if isinstance(obj, types.FunctionType):
        kind = "function"
    elif isinstance(obj, type):
        kind = "class"
    else:
        return None
    module_name = getattr(obj, "__module__", None)
    if not isinstance(module_name, str):
        return None
    module = sys.modules.get(module_name)
    if module is None:
        return None
    if module_name == "__main__":
        if not _main_is_client_script():
            return None
    elif not _is_client_module(module):
        return None
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(qualname, str) or _lookup(module, qualname) is not obj:
        return None  # pickle itself refuses it (a lambda, a local function): its error stands
    return kind, module_name, module


def _refusal(obj, kind: str, module_name: str, module, method: str) -> str:
    name = getattr(obj, "__qualname__", repr(obj))
    if module_name == "__main__":
        where = f"the client's script {getattr(module, '__file__', None) or '<script>'}"
        remedy = "move it to a module installed on the worker"
    else:
        origin = getattr(module, "__file__", None)
        shown = f" ({origin})" if origin else ""
        where = f"module {module_name!r}{shown}, which the client serves to the run's own process"
        remedy = "install that module on the worker"
    return (
        f"{kind} {name!r} is defined in {where}; processes started with the {method!r} method "
        f"run a fresh interpreter on the worker that cannot import it; use the 'fork' start "
        f"method (multiprocessing.get_context('fork')) or {remedy}"
    )


def _checked_submit(self, fn, /, *args, **kwargs):
    """``ProcessPoolExecutor.submit`` that refuses client code for a fresh interpreter at once.

    Otherwise the refusal happens in the executor's queue feeder thread, and CPython 3.11's
    handling of a pickling error there can deadlock the executor's shutdown (seen under load:
    the ``with`` block never ends). So the call is test-pickled here, in the submitting thread,
    for executors whose workers are spawn or forkserver children; any other pickling problem is
    left to the executor, which reports it as it always did.
    """
    context = getattr(self, "_mp_context", None)
    method = context.get_start_method() if context is not None else None
    if method in ("spawn", "forkserver"):
        from multiprocessing.reduction import ForkingPickler

        _arm()
        _trial.method = method
        try:
            ForkingPickler.dumps((fn, args, kwargs))
        except ClientCodePicklingError:
            raise
        except Exception:
            pass
        finally:
            _trial.method = None
    return _originals["executor_submit"](self, fn, *args, **kwargs)


def _reducer_override(pickler, obj):
    """``ForkingPickler.reducer_override``: refuse client code bound for a fresh interpreter.

    Called for every object of a non-builtin type, functions and classes included (pickle
    stores those by reference: module name and qualified name). Returns NotImplemented, so
    pickling goes on as usual, except for a function or class of the run's script or of a
    client module when the pickle goes to a spawn/forkserver child: then it raises
    ClientCodePicklingError, in the parent, where Process.start(), Pool.map() or
    Future.result() reports it. It also remembers the pipes pickled into such children.
    """
    if isinstance(obj, (types.FunctionType, type)):
        found = _client_definition(obj)
        if found is not None:
            method = _fresh_interpreter_destination()
            if method is not None:
                kind, module_name, module = found
                raise ClientCodePicklingError(_refusal(obj, kind, module_name, module, method))
        return NotImplemented
    connection_type = _connection_type()
    if connection_type is not None and isinstance(obj, connection_type):
        from multiprocessing import context

        popen = context.get_spawning_popen()
        if popen is not None:
            method = getattr(popen, "method", "spawn")
            try:
                _state.fresh_channels[obj] = method
            except TypeError:
                pass
    return NotImplemented


@functools.lru_cache(maxsize=None)
def _connection_type():
    from multiprocessing import connection

    return getattr(connection, "_ConnectionBase", None)


# -- fork -------------------------------------------------------------------------------------


class ForkedChildImportGuard(MetaPathFinder):
    """First on ``sys.meta_path`` in a forked child: client modules fail with a clear error.

    The child inherits every module the run imported; one it did not inherit would need a
    round trip to the client on the host's channel, which the child must not use.
    """

    def __init__(self, names: Iterable[frozenset[str]]) -> None:
        self.names = tuple(names)

    def find_spec(self, fullname, path=None, target=None):
        for names in self.names:
            if name_is_under(fullname, names):
                raise ImportError(
                    f"cannot import {fullname!r} in a child process forked from the run: the "
                    f"client's modules are served only to the run's own process; import it in "
                    f"the run before starting the processes (forked children inherit imported "
                    f"modules), or install it on the worker",
                    name=fullname,
                )
        return None

    def __repr__(self) -> str:
        return f"<ForkedChildImportGuard {[sorted(n) for n in self.names]!r}>"


def in_forked_child() -> bool:
    """True in a process forked from the run host (after ``install``)."""
    return _state.host_pid is not None and os.getpid() != _state.host_pid


def _before_fork() -> None:
    """Note, in the parent, which names the client finders serve (no locks in the child)."""
    snapshot = []
    try:
        for finder in list(sys.meta_path):
            if isinstance(finder, RemoteMetaPathFinder):
                plugin = finder.plugin
                connection_id = getattr(finder.connection, "id", None)
                if plugin is None or connection_id is None:
                    continue
                if plugin.execution_context_connection_id != connection_id:
                    continue
                names = frozenset(plugin.get_top_level_module_fullnames())
                if names:
                    snapshot.append(names)
            elif isinstance(finder, ForkedChildImportGuard):
                snapshot.extend(finder.names)
    except Exception:
        pass
    _state.fork_snapshot = tuple(snapshot)


def _text_stream(fd: int):
    try:
        binary = open(fd, "wb", closefd=False)
    except OSError:
        return open(os.devnull, "w", encoding="utf-8")
    return io.TextIOWrapper(
        binary, encoding="utf-8", errors="backslashreplace", line_buffering=True
    )


def _report_child_error(step: str, error: BaseException) -> None:
    try:
        os.write(2, f"rfs: in a forked child, {step} failed: {error!r}\n".encode("utf-8", "replace"))
    except OSError:
        pass


def _after_fork_in_child() -> None:
    """Runs in every child forked from the host (``os.register_at_fork``).

    1. the host's private descriptors (``detach_fds``) are pointed at /dev/null: the child
       keeps no end of the daemon's channel open and cannot write into it;
    2. ``sys.stdout``/``sys.stderr``, when they are the run's output objects, become text
       streams over fd 1/2 (line-buffered, UTF-8), so the child's prints reach the client;
    3. the client finders leave ``sys.meta_path`` and ``ForkedChildImportGuard`` takes their
       place for the names they served;
    4. the ``after_fork_in_child`` callback given to ``install`` runs last.
    """
    if _state.detach_fds:
        try:
            null = os.open(os.devnull, os.O_RDWR)
            try:
                for fd in _state.detach_fds:
                    if fd != null:
                        try:
                            os.dup2(null, fd)
                        except OSError:
                            pass
            finally:
                if null not in _state.detach_fds:
                    os.close(null)
        except OSError as error:
            _report_child_error("detaching the host's descriptors", error)

    try:
        stdout = _state.run_streams.get(1)
        if stdout is not None and sys.stdout is stdout:
            sys.stdout = _text_stream(1)
        stderr = _state.run_streams.get(2)
        if stderr is not None and sys.stderr is stderr:
            sys.stderr = _text_stream(2)
    except Exception as error:
        _report_child_error("switching sys.stdout/sys.stderr to fd 1/2", error)

    try:
        kept = [
            finder
            for finder in sys.meta_path
            if not isinstance(finder, (RemoteMetaPathFinder, ForkedChildImportGuard))
        ]
        if _state.fork_snapshot:
            kept.insert(0, ForkedChildImportGuard(_state.fork_snapshot))
        sys.meta_path[:] = kept
    except Exception as error:
        _report_child_error("replacing the client finders", error)

    callback = _state.after_fork_in_child
    if callback is not None:
        try:
            callback()
        except Exception as error:
            _report_child_error("the after-fork callback", error)


# -- the API the worker calls -----------------------------------------------------------------


def install(
    python_executable: Optional[str] = None,
    *,
    search: bool = True,
    after_fork_in_child: Optional[Callable[[], None]] = None,
    detach_fds: Iterable[int] = (),
) -> Optional[str]:
    """Set up child processes for this host. Call once, at host start, before any run.

    ``python_executable`` is the interpreter to use when it is one of the embedded version;
    otherwise (or when None) ``find_python_executable`` looks in the usual places unless
    ``search`` is False. The one found becomes ``sys.executable`` and multiprocessing's
    executable; with none, ``sys.executable`` is "" and starting a spawn/forkserver process
    raises RuntimeError saying so (fork keeps working).

    ``after_fork_in_child`` is called (no arguments) in every forked child after this module
    switched its streams and imports, e.g. for the Swift glue to mark its channels unusable.
    ``detach_fds`` are the host's private descriptors (the daemon channel), pointed at
    /dev/null in forked children.

    Calling it again replaces the settings (the fork handlers are registered once). Returns
    the interpreter path, or None.
    """
    import multiprocessing.spawn as spawn

    executable, candidates = find_python_executable(python_executable, search=search)
    if python_executable and executable != python_executable:
        logger.warning(
            "%s is not a Python %s interpreter; using %s", python_executable, _version_tag(),
            executable or "none",
        )
    with _state.lock:
        _state.executable = executable or ""
        if executable:
            _state.missing_message = None
        else:
            logger.warning("no Python %s interpreter found for child processes", _version_tag())
            looked = ", ".join(candidates) if candidates else "nothing to look at"
            tag = _version_tag()
            _state.missing_message = (
                f"cannot start a process with the 'spawn' or 'forkserver' method: no Python "
                f"{tag} interpreter (the version this worker embeds) was found on the worker "
                f"(looked at: {looked}); install python{tag} on the worker, or use the 'fork' "
                f"start method (multiprocessing.get_context('fork'))"
            )
        _state.after_fork_in_child = after_fork_in_child
        _state.detach_fds = tuple(int(fd) for fd in detach_fds)
        _state.host_pid = os.getpid()

        if "get_preparation_data" not in _originals:
            _originals["get_preparation_data"] = spawn.get_preparation_data
            spawn.get_preparation_data = _get_preparation_data
        if "get_executable" not in _originals:
            _originals["get_executable"] = spawn.get_executable
            spawn.get_executable = _get_executable_or_explain
        if "executor_submit" not in _originals:
            from concurrent.futures import ProcessPoolExecutor

            _originals["executor_submit"] = ProcessPoolExecutor.submit
            ProcessPoolExecutor.submit = _checked_submit
        if not _state.installed:
            os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
            _state.installed = True
    _apply_executable()
    return executable


def begin_run(main_module: types.ModuleType, stdout=None, stderr=None) -> None:
    """A run starts: ``main_module`` is its fresh ``__main__``; ``stdout``/``stderr`` its output.

    Call after ``sys.modules['__main__']``, ``sys.stdout`` and ``sys.stderr`` are set for the
    run, before its code executes. Restores ``sys.executable`` and multiprocessing's
    executable (a previous run may have changed them) and the default start method.
    """
    _state.run_main = main_module
    _state.run_streams = {1: stdout, 2: stderr}
    _reset_process_state()


def end_run() -> None:
    """A run ended: forget its ``__main__`` and streams; undo what it changed.

    Call in ``end_run`` whatever the outcome, before or after ``sys`` is restored.
    """
    _state.run_main = None
    _state.run_streams = {}
    _reset_process_state()


def _reset_process_state() -> None:
    if not _state.installed:
        return
    import multiprocessing

    try:
        _apply_executable()
    except Exception:
        pass
    try:
        # Public API: None with force=True forgets a start method set by a previous run.
        multiprocessing.set_start_method(None, force=True)
    except Exception:
        pass
