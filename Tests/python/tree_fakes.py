"""A fake client for the tree: builds a spec9 manifest of real folders and answers ``tree/read``.

The file contents are read into memory when the manifest is built, so a test can move the
folders away afterwards: whatever the worker side then imports came through ``tree/read``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Optional

NATIVE = (".so", ".pyd", ".dylib", ".dll")


class FakeTreeClient:
    """``.id`` and ``request_data_sync`` like a connection; serves one snapshot of ``roots``.

    Args:
        roots: ``[(folder, kind)]`` in search order; every file below is listed (except
            ``__pycache__`` and ``.pyc``), native extensions with sha null.
        corrupt: relative path → bytes sent instead of the file's (the sha stays the file's).
        fail: relative path → message of a ``failed`` entry.
        prefetch: add every entry whose ``missing`` bit is set, while ``max_bytes`` allows (and
            say ``more_prefetch`` when one did not fit).
        withhold: relative paths listed with sha null, as the client lists Python source over
            its ``--max-file-size``.
    """

    def __init__(self, roots, *, id="conn-1", corrupt=None, fail=None, prefetch=False, withhold=()):
        self.id = id
        self.corrupt = dict(corrupt or {})
        self.fail = dict(fail or {})
        self.prefetch = prefetch
        self.requests: list[dict] = []
        self.entries: list[tuple[str, bytes, Optional[str]]] = []  # (rel, bytes, sha)
        manifest_roots = []
        for folder, kind in roots:
            files = []
            for directory, dirs, names in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for name in names:
                    if name.endswith(".pyc"):
                        continue
                    full = os.path.join(directory, name)
                    rel = os.path.relpath(full, folder).replace(os.sep, "/")
                    with open(full, "rb") as file:
                        data = file.read()
                    withheld = name.endswith(NATIVE) or rel in withhold
                    sha = None if withheld else hashlib.sha256(data).hexdigest()
                    files.append((rel, data, sha))
            files.sort(key=lambda f: f[0])
            self.entries.extend(files)
            manifest_roots.append(
                {"path": folder, "kind": kind, "files": [[r, len(d), s] for r, d, s in files]}
            )
        self.manifest = {"snapshot": "c1-1", "roots": manifest_roots}

    def tree_json(self, tree_dir, store, max_reply_bytes=1 << 20) -> str:
        return json.dumps(
            {"dir": str(tree_dir), "store": str(store), "max_reply_bytes": max_reply_bytes,
             "manifest": self.manifest}
        )

    def index(self, rel: str) -> int:
        return next(i for i, entry in enumerate(self.entries) if entry[0] == rel)

    def requested_entries(self) -> list:
        return [e for r in self.requests for e in r["params"]["entries"]]

    def request_data_sync(self, request, timeout=None):
        assert request["method"] == "tree/read", request
        self.requests.append(request)
        params = request["params"]
        assert params["snapshot"] == "c1-1"
        budget = params["max_bytes"]
        blobs, failed = [], []
        for item in params["entries"]:
            index, offset = (item, 0) if isinstance(item, int) else item
            rel, data, sha = self.entries[index]
            if rel in self.fail:
                failed.append({"entry": index, "message": self.fail[rel]})
                continue
            data = self.corrupt.get(rel, data)
            rest = data[offset:]
            encoded = _encode(rest)
            length = len(next(v for k, v in encoded.items() if k in ("utf8", "base64")))
            if length <= budget:
                blob = {"entry": index, **encoded}
                if offset:
                    blob["offset"] = offset
                budget -= length
            else:
                take = max(0, budget) * 3 // 4 // 3 * 3
                chunk = base64.b64encode(rest[:take]).decode()
                blob = {"entry": index, "offset": offset, "base64": chunk}
                if offset + take < len(data):
                    blob["more"] = True
                budget -= len(chunk)
            blobs.append(blob)
        more = False
        if self.prefetch and params.get("missing"):
            missing = base64.b64decode(params["missing"])
            for index, (rel, data, sha) in enumerate(self.entries):
                if sha is None or not missing[index // 8] & (1 << (index % 8)):
                    continue
                encoded = _encode(self.corrupt.get(rel, data))
                length = len(next(iter(encoded.values())))
                if length > budget:
                    more = True
                    continue
                budget -= length
                blobs.append({"entry": index, **encoded})
        result = {"blobs": blobs, "failed": failed}
        if more:
            result["more_prefetch"] = True
        return {"jsonrpc": "2.0", "id": request["id"], "result": result}


def _encode(data: bytes) -> dict:
    try:
        return {"utf8": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}
