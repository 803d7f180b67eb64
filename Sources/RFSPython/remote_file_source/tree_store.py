"""The node's content-addressed store of client files and compiled code (spec9 "Store layout").

Shared by every host and daemon of the worker node, so everything here tolerates other
processes writing the same entries at the same time: a file is written under ``tmp/`` and
renamed into place, and whoever renames last wins with identical content. The daemon's RFSStore
evicts least-recently-used entries by ctime, so using a blob (hard-linking it) or a code entry
(``os.utime``) marks it as used. ``Store`` keeps no state of its own besides its paths: any
thread may call it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import secrets
import shutil
import sys
import time
from types import CodeType
from typing import Optional

__all__ = ["BlobWriter", "Store"]


#: How stale an entry's use time may get before using it again updates it (seconds).
USE_RESOLUTION_SECONDS = 600


class Store:
    def __init__(self, root: str) -> None:
        self.root = root
        self._code_dir = os.path.join(
            root, "code", f"{importlib.util.MAGIC_NUMBER.hex()}-o{sys.flags.optimize}"
        )

    def blob_path(self, sha: str) -> str:
        return os.path.join(self.root, "blobs", sha[:2], sha)

    def code_path(self, sha: str) -> str:
        return os.path.join(self._code_dir, sha[:2], sha)

    def has_blob(self, sha: str) -> bool:
        return os.path.exists(self.blob_path(sha))

    # -- writing -------------------------------------------------------------

    def _temporary(self) -> tuple[str, int]:
        """A new file under ``tmp/``, open for writing: ``(path, fd)``."""
        directory = os.path.join(self.root, "tmp")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{os.getpid()}.{secrets.token_hex(8)}")
        return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def _publish(self, temporary: str, final: str) -> None:
        """Make the finished temporary file read-only and rename it to ``final``."""
        os.chmod(temporary, 0o444)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(temporary, final)

    def writer(self, sha: str, size: int) -> "BlobWriter":
        return BlobWriter(self, sha, size)

    def write_code(self, sha: str, code: CodeType) -> None:
        """Cache ``code`` (compiled from blob ``sha``); a failure only costs a later compile."""
        try:
            data = marshal.dumps(code)
            temporary, fd = self._temporary()
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(data)
                self._publish(temporary, self.code_path(sha))
            except BaseException:
                _remove(temporary)
                raise
        except OSError:
            pass

    def read_code(self, sha: str) -> Optional[CodeType]:
        """The cached code of blob ``sha`` (None when absent or unreadable); marks it used."""
        path = self.code_path(sha)
        try:
            with open(path, "rb") as file:
                changed = os.fstat(file.fileno()).st_ctime
                data = file.read()
            code = marshal.loads(data)
        except (OSError, ValueError, EOFError, TypeError):
            return None
        if not isinstance(code, CodeType):
            return None
        # Eviction goes by ctime (least recently used first); touching an entry is a metadata
        # write, so one used within the last minutes is not touched again: LRU to the minute.
        if time.time() - changed > USE_RESOLUTION_SECONDS:
            try:
                os.utime(path)
            except OSError:
                pass
        return code

    # -- materializing ---------------------------------------------------------

    def link(self, sha: str, target: str) -> None:
        """Put blob ``sha`` at ``target``: a hard link, a copy where linking is impossible.

        Raises FileNotFoundError when the blob is not (or no longer) in the store. A target that
        already exists is left as it is (another thread materialized it first).
        """
        blob = self.blob_path(sha)
        # One system call in the usual case (a warm run links hundreds of files): the link
        # itself; its folder is made only when the link says it is missing.
        for attempt in (1, 2):
            try:
                os.link(blob, target)
                return
            except FileExistsError:
                return
            except FileNotFoundError:
                if attempt == 2 or not os.path.exists(blob):
                    raise
                os.makedirs(os.path.dirname(target), exist_ok=True)
            except OSError:
                break
        # Another file system, or links not allowed: copy through a temporary beside the target.
        temporary = f"{target}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            shutil.copyfile(blob, temporary)
            os.chmod(temporary, 0o444)
            os.replace(temporary, target)
        except BaseException:
            _remove(temporary)
            raise


class BlobWriter:
    """Receives one blob's bytes in order, checks size and sha256, then publishes it.

    Bytes go straight to a temporary file, so memory stays bounded by one chunk however big
    the blob is. Owned by the thread that fetches (under the fetcher's lock).
    """

    def __init__(self, store: Store, sha: str, size: int) -> None:
        self.store = store
        self.sha = sha
        self.size = size
        self.received = 0
        self._hash = hashlib.sha256()
        self._path, fd = store._temporary()
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.received += len(data)
        if self.received > self.size:
            raise ValueError(f"more bytes than the manifest's size {self.size}")
        self._hash.update(data)
        self._file.write(data)

    def finish(self) -> None:
        """Verify and publish; ValueError (and nothing stored) when the bytes are wrong."""
        try:
            self._file.close()
            if self.received != self.size:
                raise ValueError(f"{self.received} bytes received, the manifest says {self.size}")
            digest = self._hash.hexdigest()
            if digest != self.sha:
                raise ValueError(f"sha256 {digest} does not match the manifest's {self.sha}")
            self.store._publish(self._path, self.store.blob_path(self.sha))
        except BaseException:
            _remove(self._path)
            raise

    def abandon(self) -> None:
        self._file.close()
        _remove(self._path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
