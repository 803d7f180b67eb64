"""Compiling received modules ahead of their import, on another core.

A cold import of a big package is mostly compiling: a run host compiles as much source as local
Python without bytecode does, and waits for it to arrive first. But the client's replies bring a
module's whole import closure, in the order Python will import it, long before the importing thread
needs the last of it. So the host hands every received module to one helper process (a plain
``sys.executable``, the same CPython version, hence the same magic number and code) that compiles
them in that order into the store's code cache; the importing thread then finds most of them there,
as a warm run does. On one core it costs little; on two it hides most of the compiling.

The helper only ever writes code-cache entries the way ``Store.write_code`` does (a temporary file
renamed into place), skips what is already cached, and a module it cannot compile is left to the
importing thread, which reports the error as Python would. Whatever goes wrong with the helper
(it cannot start, it dies) only costs the time it would have saved.

Threads: ``submit`` is called by the importing threads (under the fetcher's lock); a queue hands the
names to one daemon writer thread that owns the helper's stdin, so a slow helper never blocks an
import on a full pipe.
"""

from __future__ import annotations

import logging
import queue
import subprocess
import sys
import threading
from typing import Iterable, Optional

from .tree_store import Store

logger = logging.getLogger(__name__)

__all__ = ["CompileAhead"]

#: The helper: reads blob names (sha256 hex) on stdin, one per line, and writes their code.
#: argv: store, the code directory's name (``<magic>-o<optimize>``), the optimization level.
_HELPER = r"""
import importlib.util, marshal, os, secrets, sys
store, code_dir, optimize = sys.argv[1], sys.argv[2], int(sys.argv[3])
if not code_dir.startswith(importlib.util.MAGIC_NUMBER.hex() + "-"):
    sys.exit(0)  # another CPython: its code would not load
for line in sys.stdin:
    sha = line.strip()
    if len(sha) != 64:
        continue
    target = os.path.join(store, "code", code_dir, sha[:2], sha)
    if os.path.exists(target):
        continue
    try:
        with open(os.path.join(store, "blobs", sha[:2], sha), "rb") as file:
            source = file.read()
        code = compile(source, "<rfs>", "exec", dont_inherit=True, optimize=optimize)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        continue
    temporary = os.path.join(store, "tmp", "%d.%s" % (os.getpid(), secrets.token_hex(8)))
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(temporary, "wb") as file:
            file.write(marshal.dumps(code))
        os.chmod(temporary, 0o444)
        os.replace(temporary, target)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
"""


class CompileAhead:
    """One helper process per store and host, started at the first ``submit``."""

    def __init__(self, store: Store, executable: Optional[str] = None) -> None:
        self.store = store
        self.executable = executable if executable is not None else sys.executable
        self._queue: "queue.SimpleQueue[Optional[str]]" = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _state
        self._state = "idle"  # "idle" → "running" → "closed" (or "failed")
        self._process: Optional[subprocess.Popen] = None

    def submit(self, shas: Iterable[str]) -> None:
        """Compile these blobs' code (in this order) unless it is cached by then."""
        names = list(shas)
        if not names:
            return
        with self._lock:
            if self._state == "idle":
                self._start()
            if self._state != "running":
                return
        for sha in names:
            self._queue.put(sha)

    def close(self) -> None:
        """No more modules: the helper finishes what it has and exits."""
        with self._lock:
            running = self._state == "running"
            self._state = "closed"
        if running:
            self._queue.put(None)

    def _start(self) -> None:
        if not self.executable:
            self._state = "failed"
            return
        code_dir = self.store.code_path("0" * 64).split("/code/", 1)[1].split("/", 1)[0]
        try:
            self._process = subprocess.Popen(
                [self.executable, "-I", "-S", "-c", _HELPER, self.store.root, code_dir, str(sys.flags.optimize)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                close_fds=True, text=True, bufsize=1,
            )
        except OSError as error:
            logger.debug("no compile helper (%s): modules compile as they are imported", error)
            self._state = "failed"
            return
        self._state = "running"
        threading.Thread(target=self._write, name="rfs-compile-ahead", daemon=True).start()

    def _write(self) -> None:
        """The writer thread: feeds the helper until ``close`` (or the helper is gone)."""
        process = self._process
        assert process is not None and process.stdin is not None
        try:
            while True:
                sha = self._queue.get()
                if sha is None:
                    break
                process.stdin.write(sha + "\n")
        except (OSError, ValueError):
            pass  # the helper died: imports compile for themselves
        finally:
            try:
                process.stdin.close()
            except OSError:
                pass
            process.wait()
