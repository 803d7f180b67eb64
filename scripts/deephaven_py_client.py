#!/usr/bin/env python3
"""Minimal pydeephaven client of the deephaven-plugin-python-remote-file-source plugin.

This is what a Deephaven user without rfs would write (it follows the plugin's own Node test
client, plugins/python-remote-file-source/test-node-client in deephaven/deephaven-plugins) and
is the baseline for rfs benchmarks:

    python scripts/deephaven_py_client.py --url http://127.0.0.1:PORT --psk K \\
        --source DIR --code 'import networkx' [--repeat N]

It logs in with the pre-shared key, creates its own plugin object in the Python console
(`__pyclient_plugin = PluginObject()`), opens the object's message stream (pydeephaven's
experimental PluginClient), sends JSON-RPC `set_connection_id` (the connection id is the request
id), and answers the server's `fetch_module` requests from DIR, reading sources from disk on each
request. Module rules: `a.b` is DIR/a/b/ with __init__.py (package, origin __init__.py), else
DIR/a/b.py (module), else DIR/a/b/ without __init__.py (namespace package, origin None), else
result null. Before each repeat it calls `set_execution_context(cid, {top-level names of DIR})`,
which evicts the previously imported modules, so every repeat is a cold import; then it runs
--code through the console and prints one JSON line per repeat:

    {"seconds": <wall time of the ExecuteCommand call>, "fetches": <fetch_module requests answered>}

Finally it clears the execution context and closes the stream and session. Exit status 1 if the
code raised (the error is printed to stderr).

Needs pydeephaven (in .build/deephaven-venv, see scripts/deephaven-server).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from typing import Any, Optional
from urllib.parse import urlparse

from pydeephaven import Session
from pydeephaven.ticket import ScopeTicket, ServerObject

PSK_AUTH = "io.deephaven.authentication.psk.PskAuthenticationHandler"
PLUGIN_TYPE = "DeephavenPythonRemoteFileSourcePlugin"


class ModuleSource:
    """Resolves module names against a local folder."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def top_level_names(self) -> list[str]:
        names = set()
        for entry in os.scandir(self.root):
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            if entry.is_dir():
                if entry.name.isidentifier():
                    names.add(entry.name)
            elif entry.name.endswith(".py") and entry.name[:-3].isidentifier():
                names.add(entry.name[:-3])
        return sorted(names)

    def spec(self, name: str) -> Optional[dict[str, Any]]:
        parts = name.split(".")
        if not all(p.isidentifier() for p in parts):
            return None
        base = os.path.join(self.root, *parts)
        init = os.path.join(base, "__init__.py")
        if os.path.isfile(init):
            return self._result(name, init, True, [base])
        if os.path.isfile(base + ".py"):
            return self._result(name, base + ".py", False, None)
        if os.path.isdir(base):
            return self._result(name, None, True, [base])
        return None

    @staticmethod
    def _result(name, origin, is_package, locations) -> dict[str, Any]:
        source = None
        if origin is not None:
            with open(origin, encoding="utf-8") as f:
                source = f.read()
        return {
            "name": name,
            "origin": origin,
            "is_package": is_package,
            "submodule_search_locations": locations,
            "source": source,
        }


class PluginConnection:
    """The plugin object's message stream: answers fetch_module, awaits responses by id."""

    def __init__(self, session: Session, var: str, modules: ModuleSource):
        self.modules = modules
        obj = ServerObject(type=PLUGIN_TYPE, ticket=ScopeTicket.scope_ticket(var))
        self.client = session.plugin_client(obj)
        self.fetches = 0
        self._lock = threading.Lock()
        self._waiting: dict[str, threading.Event] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _send(self, msg: dict[str, Any]) -> None:
        self.client.req_stream.write(json.dumps(msg).encode(), [])

    def _read(self) -> None:
        try:
            for payload, _refs in self.client.resp_stream:
                if not payload:  # the server's greeting is an empty message
                    continue
                self._handle(json.loads(payload))
        except Exception as err:  # stream closed (normally at exit)
            if self.client.resp_stream.stream_resp is not None:
                print(f"message stream ended: {err!r}", file=sys.stderr)

    def _handle(self, msg: dict[str, Any]) -> None:
        if msg.get("method") == "fetch_module":
            name = msg["params"]["module_name"]
            try:
                result = self.modules.spec(name)
            except OSError as err:
                print(f"fetch_module {name}: {err}", file=sys.stderr)
                result = None
            with self._lock:
                self.fetches += 1
            self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
        elif "method" not in msg:
            with self._lock:
                event = self._waiting.get(msg.get("id"))
            if event is not None:
                event.set()

    def set_connection_id(self, cid: str, timeout: float = 30.0) -> None:
        event = threading.Event()
        with self._lock:
            self._waiting[cid] = event
        self._send({"jsonrpc": "2.0", "id": cid, "method": "set_connection_id"})
        if not event.wait(timeout):
            raise TimeoutError("no response to set_connection_id")
        with self._lock:
            del self._waiting[cid]

    def close(self) -> None:
        self.client.close()


def run(session: Session, code: str) -> str:
    """Runs code in the console; returns ExecuteCommand's error_message ('' on success)."""
    return session.console_service.run_script(code).error_message


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="http://HOST:PORT of the Deephaven server")
    ap.add_argument("--psk", required=True, help="pre-shared key")
    ap.add_argument("--source", required=True, help="local folder to import modules from")
    ap.add_argument("--code", required=True, help="Python code to run in the console")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--var", default="__pyclient_plugin", help="console variable for the plugin")
    args = ap.parse_args()

    url = urlparse(args.url)
    modules = ModuleSource(args.source)
    names = modules.top_level_names()
    names_literal = "{" + ",".join(json.dumps(n) for n in names) + "}"
    cid = str(uuid.uuid4())

    session = Session(url.hostname, url.port or 10000, auth_type=PSK_AUTH, auth_token=args.psk)
    conn = None
    status = 0
    try:
        err = run(session, "from deephaven.python_remote_file_source import PluginObject\n"
                           f"{args.var} = PluginObject()")
        if err:
            print(f"could not create the plugin object:\n{err}", file=sys.stderr)
            return 1
        conn = PluginConnection(session, args.var, modules)
        conn.set_connection_id(cid)
        for _ in range(args.repeat):
            err = run(session, f"{args.var}.set_execution_context({cid!r}, {names_literal})")
            if err:
                print(f"set_execution_context failed:\n{err}", file=sys.stderr)
                return 1
            before = conn.fetches
            start = time.perf_counter()
            err = run(session, args.code)
            seconds = time.perf_counter() - start
            print(json.dumps({"seconds": round(seconds, 6), "fetches": conn.fetches - before}),
                  flush=True)
            if err:
                print(err, file=sys.stderr)
                status = 1
                break
        run(session, f"{args.var}.set_execution_context(None, set())")
    finally:
        if conn is not None:
            conn.close()
        session.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
