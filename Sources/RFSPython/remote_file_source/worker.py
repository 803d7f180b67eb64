"""Glue between the Swift worker that embeds this interpreter (RFSPython) and this package.

Swift owns the interpreter and calls the functions below on Python's main thread with the GIL
held; Python reaches Swift through the builtin module ``_rfs_bridge`` (implemented in Swift):

* ``_rfs_bridge.request(connection_id, method, params_json, timeout)`` sends a JSON-RPC request to
  a client and returns the JSON text of the whole response (TimeoutError / ConnectionError /
  RuntimeError on failure);
* ``_rfs_bridge.write(stream, text)`` hands output of the current run to Swift.

Functions whose result Swift reads return JSON text, so the Swift side decodes one well-defined
shape instead of walking Python objects through the C API.

Runs are split in two: ``begin_run`` prepares a fresh ``__main__`` and compiles the script,
Swift executes the code object itself (so that an interrupt can only land in the user's code,
never in this bookkeeping), and ``end_run`` classifies the result and restores ``sys``.

In a run host (a process of its own per run or session, DESIGN.md §6), ``install_host`` also
makes the interpreter behave like ``python job.py``: SIGINT raises KeyboardInterrupt (the worker
interrupts a run that way, which also ends ``time.sleep`` and lock waits), ``sys.executable`` is a
real interpreter of this version, and ``finish_interpreter`` waits for the script's threads and
runs its ``atexit`` handlers before the run's result is reported.
"""

import atexit
import builtins
import io
import json
import linecache
import os
import signal
import sys
import threading
import traceback
import types

import _rfs_bridge

from .json_rpc import DEFAULT_REQUEST_TIMEOUT
from .module_loader import RemoteMetaPathFinder
from .plugin_object import PluginObject

__all__ = [
    "BridgeConnection",
    "begin_run",
    "describe_exception",
    "end_run",
    "execution_context",
    "finish_interpreter",
    "install_host",
    "plugin",
    "register_connection",
    "set_execution_context",
    "set_run_tree",
    "take_store_lookups",
    "top_level_names",
    "unregister_connection",
]


class BridgeConnection:
    """The connection object a ``RemoteMetaPathFinder`` talks through.

    It has the reference ``MessageStream``'s surface (``.id`` and ``request_data_sync``) but the
    round trip goes through Swift: ``_rfs_bridge.request`` releases the GIL while the Swift side
    waits for the client, so other Python threads keep running.
    """

    def __init__(self, connection_id, default_timeout=DEFAULT_REQUEST_TIMEOUT):
        self.id = connection_id
        self.default_timeout = default_timeout

    def request_data_sync(self, request, timeout=None):
        """Send ``request`` (a JSON-RPC request dict) and return the response dict.

        Waits ``timeout`` seconds (``default_timeout`` when None), like ``MessageStream``; in a
        run host the worker's ``--fetch-timeout`` is the deadline and a shorter ``timeout`` only
        tightens it. The Swift peer puts its own id on the wire; the response gets the caller's
        id back so it matches ``request``. Raises TimeoutError, ConnectionError, PermissionError
        or RuntimeError when no response arrives.
        """
        wait = self.default_timeout if timeout is None else timeout
        params = request.get("params", {})
        text = _rfs_bridge.request(self.id, request["method"], json.dumps(params), wait)
        response = json.loads(text)
        if isinstance(response, dict) and "id" in request:
            response["id"] = request["id"]
        return response

    def __repr__(self):
        return f"<BridgeConnection {self.id!r}>"


# -- the plugin and the finders ------------------------------------------------------------------

#: The worker's one PluginObject: the execution context every finder consults.
plugin = PluginObject()

_finders = {}  # connection id -> the RemoteMetaPathFinder installed for it


def register_connection(connection_id, timeout=DEFAULT_REQUEST_TIMEOUT):
    """Make sure a RemoteMetaPathFinder for ``connection_id`` is first in ``sys.meta_path``.

    Idempotent: a second call for the same id keeps the one finder. ``timeout`` bounds every
    ``fetch_module`` round trip of that finder (None: no limit).
    """
    finder = _finders.get(connection_id)
    if finder is None:
        finder = RemoteMetaPathFinder(BridgeConnection(connection_id, timeout), plugin)
        _finders[connection_id] = finder
    if not any(f is finder for f in sys.meta_path):
        sys.meta_path.insert(0, finder)


def unregister_connection(connection_id):
    """Remove the finder of ``connection_id`` (if any) from ``sys.meta_path``."""
    finder = _finders.pop(connection_id, None)
    if finder is not None:
        sys.meta_path[:] = [f for f in sys.meta_path if f is not finder]


def set_execution_context(connection_id, names):
    """Set the plugin's execution context; the plugin evicts old and new names from sys.modules.

    Prefetched sources are discarded too: what a client sent for the old context is not served
    in the new one.
    """
    plugin.set_execution_context(connection_id, set(names))
    _discard_prefetched()


def set_run_tree(connection_id, tree_json):
    """Serve the coming run's imports from its tree (spec9), or from ``fetch_module`` again.

    Called before every ``begin_run`` that has a tree or a context. ``tree_json`` is the JSON
    text of ``{"dir", "store", "max_reply_bytes", "manifest"}`` or None; the tree finder replaces
    any earlier run's and takes the connection's ``fetch_module`` finder out of ``sys.meta_path``
    until a run without a tree puts it back.
    """
    from . import tree

    finder = _finders.get(connection_id)
    if tree_json is None:
        tree.set_run_tree(None, plugin, None)
        return
    connection = finder.connection if finder is not None else BridgeConnection(connection_id)
    tree.set_run_tree(connection, plugin, tree_json, hide=[finder] if finder is not None else [])


def take_store_lookups():
    """JSON ``{"hits", "misses"}``: what the run's tree found in the node store since the last
    call, or ``null`` without a tree. The host adds it to its ``run`` result for the daemon."""
    from . import tree

    lookups = tree.take_store_lookups()
    return json.dumps(None if lookups is None else {"hits": lookups[0], "misses": lookups[1]})


def _discard_prefetched():
    for finder in _finders.values():
        finder.invalidate_caches()


def top_level_names():
    """JSON list of the current context's top-level names, sorted."""
    return json.dumps(sorted(plugin.get_top_level_module_fullnames()))


def execution_context():
    """JSON ``{"connection_id", "top_level_names"}`` of the current context."""
    return json.dumps(
        {
            "connection_id": plugin.execution_context_connection_id,
            "top_level_names": sorted(plugin.get_top_level_module_fullnames()),
        }
    )


# -- runs ----------------------------------------------------------------------------------------


class _RunOutput(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` during a run.

    Line-buffered: every complete line is handed to Swift as soon as it is written (so output
    streams while the script runs), a partial line on ``flush()`` and at the end of the run.
    After the run, writes (say, from a thread the script left running) go to the process's own
    stream instead, so they never end up in the output of a later run.
    """

    def __init__(self, stream, fallback):
        super().__init__()
        self._stream = stream
        self._fallback = fallback
        self._pending = []
        self._lock = threading.Lock()
        self._attached = True

    @property
    def name(self):
        return f"<{self._stream}>"

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "backslashreplace"

    @property
    def line_buffering(self):
        return True

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if not self._attached:
            if self._fallback is not None:
                self._fallback.write(text)
            return len(text)
        with self._lock:
            cut = text.rfind("\n") + 1
            if cut == 0:
                self._pending.append(text)
            else:
                self._pending.append(text[:cut])
                chunk = "".join(self._pending)
                self._pending = [text[cut:]] if cut < len(text) else []
                self._emit(chunk)
        return len(text)

    def flush(self):
        if not self._attached:
            if self._fallback is not None:
                self._fallback.flush()
            return
        with self._lock:
            if self._pending:
                chunk = "".join(self._pending)
                self._pending = []
                self._emit(chunk)

    def _emit(self, chunk):
        try:
            _rfs_bridge.write(self._stream, chunk)
        except UnicodeEncodeError:
            # Lone surrogates cannot cross into Swift as UTF-8; show them like sys.stderr does.
            _rfs_bridge.write(self._stream, chunk.encode("utf-8", "backslashreplace").decode())

    def _end_of_run(self):
        """Deliver what is left and switch to the fallback stream."""
        try:
            self.flush()
        finally:
            self._attached = False


class _Run:
    """What ``begin_run`` set up and ``end_run`` must undo."""

    __slots__ = (
        "filename",
        "code",
        "error",
        "globals",
        "stdout",
        "stderr",
        "main",
        "lines",
        "saved",
    )


def begin_run(source, filename, argv):
    """Prepare a run: fresh ``__main__``, ``sys.argv``, captured output, compiled code.

    Returns a ``_Run``; Swift executes ``run.code`` in ``run.globals``. A script that does not
    compile gets ``run.code = None`` and ``run.error`` set, and ``end_run`` reports the error
    the way CPython does for a script (no traceback, just the SyntaxError).
    """
    # A run sees only what is prefetched during it: sources are as on disk at the run's imports.
    _discard_prefetched()
    run = _Run()
    run.filename = filename
    run.saved = (sys.argv, sys.stdin, sys.stdout, sys.stderr, sys.modules.get("__main__"))

    main = types.ModuleType("__main__")
    main.__file__ = filename
    main.__builtins__ = builtins
    run.main = main
    run.globals = main.__dict__

    run.stdout = _RunOutput("stdout", sys.__stdout__)
    run.stderr = _RunOutput("stderr", sys.__stderr__)
    sys.argv = list(argv)
    # Never read the worker's real stdin: for a child worker it is the pipe the parent uses to
    # signal that it is gone. input() sees end of file.
    sys.stdin = io.StringIO("")
    sys.stdout = run.stdout
    sys.stderr = run.stderr
    sys.modules["__main__"] = main
    if _processes is not None:
        _processes.begin_run(main, stdout=run.stdout, stderr=run.stderr)

    # The script is not a file on this machine: put its lines where traceback and inspect look.
    # mtime None makes linecache.checkcache leave the entry alone.
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    run.lines = (len(source), None, lines, filename)
    linecache.cache[filename] = run.lines

    run.code = None
    run.error = None
    try:
        run.code = compile(source, filename, "exec", dont_inherit=True)
    except Exception as error:  # SyntaxError, or ValueError for NUL bytes
        run.error = error.with_traceback(None)
    return run


def end_run(run, exception):
    """Finish a run: classify ``exception`` (None for success), flush output, restore ``sys``.

    Returns JSON: ``{"status": "ok"}``, ``{"status": "exit", "code": n}`` or
    ``{"status": "exception", "exception": {"type", "message", "traceback"}}``.
    """
    try:
        if exception is None:
            result = {"status": "ok"}
        elif isinstance(exception, SystemExit):
            result = {"status": "exit", "code": _exit_code(exception)}
        else:
            result = {"status": "exception", "exception": _describe(exception)}
    finally:
        _restore(run)
    return json.dumps(result)


def _exit_code(exception):
    """The C ``int`` CPython passes to ``exit()`` for an uncaught SystemExit.

    CPython 3.11 reads the code with ``PyLong_AsLong`` (an integer beyond a C long becomes -1)
    and casts it to ``int`` (the low 32 bits); the process's status is then that value & 0xFF,
    so ``sys.exit(2**100)`` and ``sys.exit(-1)`` both end with status 255.
    """
    code = exception.code
    if code is None:
        return 0
    if isinstance(code, int):
        if not -(2**63) <= code < 2**63:
            return -1
        return ((code + 2**31) % 2**32) - 2**31
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def _restore(run):
    if _processes is not None:
        try:
            _processes.end_run()
        except Exception:
            pass
    for stream in (run.stdout, run.stderr):
        try:
            stream._end_of_run()
        except Exception:
            pass
    argv, stdin, stdout, stderr, main = run.saved
    sys.argv = argv
    sys.stdin = stdin
    sys.stdout = stdout
    sys.stderr = stderr
    if sys.modules.get("__main__") is run.main:
        if main is None:
            sys.modules.pop("__main__", None)
        else:
            sys.modules["__main__"] = main
    if linecache.cache.get(run.filename) is run.lines:
        del linecache.cache[run.filename]


def _type_name(exception_type):
    """The exception's name as the last traceback line shows it (module-qualified if needed)."""
    module = getattr(exception_type, "__module__", None)
    name = getattr(exception_type, "__qualname__", None) or exception_type.__name__
    if module in (None, "builtins", "__main__"):
        return name
    return f"{module}.{name}"


def _printable(text):
    """``text`` as UTF-8 can carry it: lone surrogates (``"bad \\udcff"``) become backslash
    escapes, as CPython's own stderr shows them."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


#: Frames from files of this package (this module, the finders, the tree) are never shown.
_OUR_DIRECTORY = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_ours(filename):
    return filename.startswith(_OUR_DIRECTORY) and filename.endswith(".py")


def _without_our_frames(summary, seen=None):
    """Drop this package's frames (``sys.stdout`` during a run is ours, in Python; an interrupt
    or an error can land in it) from a ``TracebackException`` and those it chains to, as
    importlib hides its own frames: the user sees their code, as with CPython's C-level
    streams."""
    seen = set() if seen is None else seen
    if summary is None or id(summary) in seen:
        return
    seen.add(id(summary))
    summary.stack = traceback.StackSummary.from_list(
        [frame for frame in summary.stack if not _is_ours(frame.filename)]
    )
    _without_our_frames(summary.__cause__, seen)
    _without_our_frames(summary.__context__, seen)
    for nested in getattr(summary, "exceptions", None) or ():
        _without_our_frames(nested, seen)


def _describe(exception):
    try:
        message = str(exception)
    except Exception:
        message = f"<exception str() failed for {type(exception).__name__}>"
    try:
        summary = traceback.TracebackException.from_exception(exception)
        _without_our_frames(summary)
        formatted = "".join(summary.format())
    except Exception:
        formatted = f"{_type_name(type(exception))}: {message}\n"
    return {
        "type": _printable(_type_name(type(exception))),
        "message": _printable(message),
        "traceback": _printable(formatted),
    }


def describe_exception(exception):
    """JSON ``{"type", "message", "traceback"}`` for an exception (used for Swift's PythonError)."""
    return json.dumps(_describe(exception))


# -- run hosts -----------------------------------------------------------------------------------


def _after_fork_in_child():
    # A forked child has no worker to ask about interrupts: SIGINT is plain KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def install_host(python_executable=None):
    """Set the interpreter up as a run host; returns JSON: ``sys.executable`` (or null).

    Called once, on Python's main thread, right after the worker module is imported. Child
    processes are set up by ``processes.install``: a real interpreter for ``sys.executable``
    and multiprocessing's spawn, forked children that write to fd 1/2 and never use the host's
    channels (fd 3 and 4), and a clear error instead of a hang when client code would have to
    reach a fresh interpreter.
    """
    from . import processes

    global _processes
    # SIGINT is the worker's way to interrupt the run (and Ctrl-C's, for a script that sends
    # itself SIGINT): KeyboardInterrupt when the worker asked for it and the script's own code is
    # running; ignored while the worker's bookkeeping runs (the request then waits for the
    # script's code, or dies with the run). Implemented in C so tracebacks show no frame of ours.
    signal.signal(signal.SIGINT, _rfs_bridge.sigint_handler)
    executable = processes.install(
        python_executable, after_fork_in_child=_after_fork_in_child, detach_fds=(3, 4)
    )
    _processes = processes
    return json.dumps(executable)


#: ``processes`` once ``install_host`` ran (None in an interpreter that is not a run host).
_processes = None


def finish_interpreter():
    """What ``python job.py`` does after the script and before it exits: wait for non-daemon
    threads, then run ``atexit`` handlers. Only for a host that is discarded after the run."""
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
