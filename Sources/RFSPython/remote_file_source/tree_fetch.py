"""Bringing the client's blobs into the store with ``tree/read`` (spec9 "tree/read").

One ``BlobFetcher`` per active tree. Its lock serialises fetches: two threads importing at once
wait for each other instead of asking the client twice for the same blob. The ``missing`` bitset
(entries whose blob the store lacks and that were not asked for yet) is computed on the first
fetch, not when the tree is set, so a run whose blobs are all cached never stats the whole
manifest, and is kept up to date as blobs arrive.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from typing import Any, Iterable, Optional

from .json_rpc import create_request_msg
from .tree_compile import CompileAhead
from .tree_manifest import Entry, Manifest
from .tree_store import BlobWriter, Store

__all__ = ["BlobFetcher", "BlobError", "TREE_READ_METHOD"]

TREE_READ_METHOD = "tree/read"

logger = logging.getLogger(__name__)


#: The most entries one ``tree/read`` may name (the client refuses more: ``TreeReadParams.maxEntries``).
MAX_ENTRIES = 4096


class BlobError(Exception):
    """Entry ``entry``'s blob could not be had; ``reason`` says why (client's or ours)."""

    def __init__(self, entry: Entry, reason: str) -> None:
        super().__init__(reason)
        self.entry = entry
        self.reason = reason


class BlobFetcher:
    def __init__(
        self,
        connection: Any,
        manifest: Manifest,
        store: Store,
        max_reply_bytes: int,
        timeout: Optional[float] = None,
    ) -> None:
        self.connection = connection
        self.manifest = manifest
        self.store = store
        self.max_reply_bytes = max_reply_bytes
        self.timeout = timeout
        self._lock = threading.Lock()
        self._missing: Optional[bytearray] = None  # guarded by _lock
        self._by_sha: dict[str, list[int]] = {}  # guarded by _lock
        #: How many tree/read requests were sent, and the blobs and bytes they brought (whole
        #: blobs stored, prefetched ones included): ``tree.run_stats()``, logs, tests, benchmarks.
        self.requests = 0
        self.blobs_received = 0
        self.bytes_received = 0
        #: Seconds spent waiting for tree/read replies (sending, the client's work, receiving).
        self.seconds_waiting = 0.0
        #: Store lookups of the files imports needed: found stored (``store_hits``, prefetched
        #: ones included) or asked of the client (``store_misses``). The daemon counts them for
        #: ``/metrics`` (``take_store_lookups``). Guarded by ``_counts``: importing threads race.
        self._counts = threading.Lock()
        self.store_hits = 0
        self.store_misses = 0
        # The background continuation (``_continue``): after a reply whose prefetch the budget
        # may have cut short, one daemon thread asks for the rest of those modules' closure
        # while the importing thread compiles what it has, so transfer and compile overlap.
        # ``_lock`` serialises every request (an import that needs a blob in flight waits for
        # that reply, then finds it stored); an importing thread announces itself in
        # ``_waiters`` (under ``_turn``) and the continuation lets it go first.
        self._turn = threading.Condition()
        self._waiters = 0  # guarded by _turn
        self._anchors: list[int] = []  # guarded by _lock: entries whose closure to continue
        self._continuing = False  # guarded by _lock
        self._more_prefetch = False  # guarded by _lock: the last reply's "more_prefetch"
        self._closed = False
        # Prefetched modules go to the compile helper (tree_compile), in the reply's order.
        self.compiler = CompileAhead(store)
        self._ahead: list[str] = []  # guarded by _lock: this reply's prefetched modules

    def ensure(self, entries: Iterable[Entry]) -> None:
        """Make sure the store holds the blob of every entry (native ones are skipped).

        Raises BlobError for the first requested entry the client failed or sent wrongly.
        """
        entries = [e for e in entries if e.sha is not None]
        if all(self.store.has_blob(e.sha) for e in entries):
            self._count(hits=len(entries))
            return  # the usual case once a reply came: no lock, so no wait behind a background request
        with self._turn:
            self._waiters += 1
        try:
            self._ensure(entries)
        finally:
            with self._turn:
                self._waiters -= 1
                self._turn.notify_all()

    def _count(self, hits: int = 0, misses: int = 0) -> None:
        with self._counts:
            self.store_hits += hits
            self.store_misses += misses

    def take_store_lookups(self) -> tuple[int, int]:
        """The store hits and misses counted since the last call, and start counting anew."""
        with self._counts:
            taken = (self.store_hits, self.store_misses)
            self.store_hits = self.store_misses = 0
            return taken

    def close(self) -> None:
        """The run's tree is done: no further background requests."""
        self._closed = True
        self.compiler.close()

    def _ensure(self, entries: Iterable[Entry]) -> None:
        with self._lock:
            need: list[Entry] = []
            shas: set[str] = set()
            hits = 0
            for entry in entries:
                if entry.sha is None or entry.sha in shas:
                    continue
                if self.store.has_blob(entry.sha):
                    hits += 1
                    continue
                shas.add(entry.sha)
                need.append(entry)
            self._count(hits=hits, misses=len(need))
            if need:
                self._compute_missing()
                self._fetch(need)
                if self._more_prefetch and self._any_missing():
                    # The reply's budget cut its prefetch short: continue in the background
                    # (until a reply says there is no more).
                    self._anchors = [e.index for e in need] + [a for a in self._anchors if a not in need]
                    self._anchors = self._anchors[:64]
                    if not self._continuing and not self._closed:
                        self._continuing = True
                        threading.Thread(target=self._continue, name="rfs-tree-prefetch", daemon=True).start()

    def _any_missing(self) -> bool:
        return self._missing is not None and any(self._missing)

    def _continue(self) -> None:
        """The background continuation: ``prefetch_for`` the anchors until a reply brings nothing."""
        try:
            while not self._closed:
                with self._turn:
                    while self._waiters:
                        self._turn.wait()
                with self._lock:
                    if self._closed or not self._anchors or not self._any_missing():
                        return
                    before = self.blobs_received
                    self._round([], {}, prefetch_for=self._anchors)
                    if self.blobs_received == before or not self._more_prefetch:
                        self._anchors = []
                        return
        except BaseException as error:  # a prefetch only saves time: an import will ask again
            logger.debug("background prefetch stopped: %s", error)
        finally:
            with self._lock:
                self._continuing = False

    # -- the missing bitset ------------------------------------------------------

    def _compute_missing(self) -> None:
        if self._missing is not None:
            return
        entries = self.manifest.entries
        missing = bytearray((len(entries) + 7) // 8)
        for entry in entries:
            if entry.sha is None:
                continue
            self._by_sha.setdefault(entry.sha, []).append(entry.index)
            if not self.store.has_blob(entry.sha):
                missing[entry.index // 8] |= 1 << (entry.index % 8)
        self._missing = missing

    def _clear_missing(self, sha: str) -> None:
        assert self._missing is not None
        for index in self._by_sha.get(sha, ()):
            self._missing[index // 8] &= ~(1 << (index % 8)) & 0xFF

    # -- requests ------------------------------------------------------------------

    def _fetch(self, need: list[Entry]) -> None:
        queue = list(need)
        continuing: dict[int, BlobWriter] = {}  # requested entries with chunks still to come
        try:
            while queue or continuing:
                wanted: list[Any] = [[index, w.received] for index, w in continuing.items()]
                requested = {index: continuing[index] for index in continuing}
                budget = self.max_reply_bytes - sum(
                    _encoded_size(w.size - w.received) for w in continuing.values()
                )
                while queue and len(wanted) < MAX_ENTRIES and (not wanted or _encoded_size(queue[0].size) <= budget):
                    entry = queue.pop(0)
                    if self.store.has_blob(entry.sha):  # prefetched by an earlier round
                        continue
                    budget -= _encoded_size(entry.size)
                    wanted.append(entry.index)
                    requested[entry.index] = None
                    self._clear_missing(entry.sha)
                if not wanted:
                    break
                continuing = self._round(wanted, requested)
        except BaseException:
            for writer in continuing.values():
                writer.abandon()
            raise

    def _round(
        self, wanted: list[Any], requested: dict[int, Optional[BlobWriter]], prefetch_for: Optional[list] = None
    ) -> dict:
        """One ``tree/read``; returns the requested entries that need another chunk."""
        entries = self.manifest.entries
        anchor = wanted[0] if wanted else prefetch_for[0]
        first = entries[anchor if isinstance(anchor, int) else anchor[0]]
        params = {
            "snapshot": self.manifest.snapshot,
            "entries": wanted,
            "max_bytes": self.max_reply_bytes,
            "missing": base64.b64encode(bytes(self._missing or b"")).decode("ascii"),
            "accept": ["utf8", "base64"],
        }
        if prefetch_for:
            params["prefetch_for"] = list(prefetch_for)
        self._ahead = []
        try:
            return self._answer(self._request(params, first), requested, first)
        finally:
            self.compiler.submit(self._ahead)

    def _answer(self, result: Any, requested: dict[int, Optional[BlobWriter]], first: Entry) -> dict:
        entries = self.manifest.entries
        #: The client's "more_prefetch": its budget stopped the prefetch with missing entries left.
        self._more_prefetch = isinstance(result, dict) and result.get("more_prefetch") is True
        blobs = result.get("blobs") if isinstance(result, dict) else None
        failed = result.get("failed", []) if isinstance(result, dict) else None
        if not isinstance(blobs, list) or not isinstance(failed, list):
            raise BlobError(first, f"malformed tree/read result {result!r:.200}")

        before = {index: writer.received if writer else 0 for index, writer in requested.items()}
        answered: set[int] = set()
        continuing: dict[int, BlobWriter] = {}
        writers = dict(requested)
        try:
            for item in failed:
                index = item.get("entry") if isinstance(item, dict) else None
                if index in requested:
                    message = item.get("message")
                    raise BlobError(entries[index], f"the client could not send it: {message}")
            for blob in blobs:
                index = blob.get("entry") if isinstance(blob, dict) else None
                if not isinstance(index, int) or not 0 <= index < len(entries):
                    raise BlobError(first, f"tree/read result names no entry of the manifest: {blob!r:.200}")
                entry = entries[index]
                is_requested = index in requested
                if entry.sha is None:
                    continue
                answered.add(index)
                try:
                    writer = self._chunk(entry, blob, writers.get(index), is_requested)
                except ValueError as error:
                    if is_requested:
                        raise BlobError(entry, f"the blob received is wrong: {error}") from None
                    logger.warning("dropping prefetched %s: %s", entry.rel, error)
                    writers.pop(index, None)
                    continue
                writers[index] = writer
                if writer is not None and is_requested:
                    continuing[index] = writer
                if writer is None or not is_requested:
                    writers.pop(index, None)
            for index in requested:
                if index not in answered:
                    raise BlobError(entries[index], "the client's tree/read reply left it out")
            progress = any(
                index not in continuing or continuing[index].received > before[index]
                for index in requested
            )
            if requested and not progress:
                raise BlobError(first, "the client's tree/read reply carried no bytes of it")
        except BaseException:
            for index, writer in writers.items():
                if writer is not None:
                    writer.abandon()
            raise
        return continuing

    def _chunk(
        self, entry: Entry, blob: dict, writer: Optional[BlobWriter], is_requested: bool
    ) -> Optional[BlobWriter]:
        """Write one blob (or chunk) of the reply; the writer if more is to come, else None."""
        offset = blob.get("offset", 0)
        expected = writer.received if writer is not None else 0
        if offset != expected:
            raise ValueError(f"a chunk at offset {offset!r}, expected {expected}")
        if "utf8" in blob and isinstance(blob["utf8"], str):
            try:
                data = blob["utf8"].encode("utf-8")
            except UnicodeEncodeError as error:
                raise ValueError(f"its utf8 text is not valid: {error}") from None
        elif "base64" in blob and isinstance(blob["base64"], str):
            try:
                data = base64.b64decode(blob["base64"], validate=True)
            except binascii.Error as error:
                raise ValueError(f"its base64 is not valid: {error}") from None
        else:
            raise ValueError("neither utf8 nor base64 text")
        more = blob.get("more", False) is True
        if writer is None:
            if more and not is_requested:
                raise ValueError("a prefetched blob must come whole")
            if not is_requested and self.store.has_blob(entry.sha):
                return None
            writer = self.store.writer(entry.sha, entry.size)
        try:
            writer.write(data)
            if more:
                return writer
            writer.finish()
        except BaseException:
            writer.abandon()
            raise
        self.blobs_received += 1
        self.bytes_received += entry.size
        if not is_requested and entry.rel.endswith(".py"):
            self._ahead.append(entry.sha)  # the importing thread compiles what it asked for
        self._clear_missing(entry.sha)
        return None

    def _request(self, params: dict, first: Entry) -> Any:
        self.requests += 1
        request = create_request_msg(TREE_READ_METHOD, params)
        started = time.perf_counter()
        try:
            if self.timeout is None:
                response = self.connection.request_data_sync(request)
            else:
                response = self.connection.request_data_sync(request, timeout=self.timeout)
            self.seconds_waiting += time.perf_counter() - started
        except Exception as error:
            raise BlobError(first, f"tree/read failed: {type(error).__name__}: {error}") from error
        if not isinstance(response, dict):
            raise BlobError(first, f"malformed tree/read response {response!r:.200}")
        if response.get("error") is not None:
            error = response["error"]
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else error
            raise BlobError(first, f"tree/read: client error {code}: {message}")
        return response.get("result")


def _encoded_size(size: int) -> int:
    """The most a blob of ``size`` bytes costs of a reply's ``max_bytes`` (base64)."""
    return (size + 2) // 3 * 4
