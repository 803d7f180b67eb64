"""Imports served from the run's tree (spec9 "Run host side"): manifest, store, materialized files."""

from __future__ import annotations

import builtins
import importlib
import importlib.metadata
import importlib.resources
import inspect
import os
import pkgutil
import shutil
import sys
import threading
import traceback
import types

import pytest

from remote_file_source import tree
from remote_file_source.tree_store import Store
from tree_fakes import FakeTreeClient


class TreeEnv:
    """Client folders under ``client/``, moved away by ``hide()``; the store and run dirs apart."""

    def __init__(self, base, plugin):
        self.base = base
        self.plugin = plugin
        self.client_dir = base / "client"
        self.store = base / "store"
        self.runs = base / "runs"

    def folder(self, name, files):
        folder = self.client_dir / name
        for rel, content in files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                path.write_text(content)
            else:
                path.write_bytes(content)
        return str(folder)

    def client(self, roots, **kwargs):
        return FakeTreeClient(roots, **kwargs)

    def hide(self):
        """Move the client's folders away: the worker side can no longer read them."""
        if self.client_dir.exists():
            self.client_dir.rename(self.base / "client-moved-away")

    def activate(self, client, names, run="run1", max_reply_bytes=1 << 20, hide=()):
        self.hide()
        finder = tree.set_run_tree(
            client, self.plugin, client.tree_json(self.runs / run, self.store, max_reply_bytes),
            hide=hide,
        )
        self.plugin.set_execution_context(client.id, names)
        return finder

    def serve(self, files, names, kind="source", **kwargs):
        client = self.client([(self.folder("src", files), kind)], **kwargs)
        self.activate(client, names)
        return client, str(self.client_dir / "src")


@pytest.fixture
def env(tmp_path, plugin):
    saved_hooks = list(sys.path_hooks)
    environment = TreeEnv(tmp_path, plugin)
    yield environment
    tree.set_run_tree(None, plugin, None)
    sys.path_hooks[:] = saved_hooks
    for key in [k for k in sys.path_importer_cache if str(k).startswith(str(tmp_path))]:
        del sys.path_importer_cache[key]


PACKAGE = {
    "rfst_mod.py": "def f():\n    raise ValueError('boom')\n",
    "rfst_pkg/__init__.py": "from . import sub\n",
    "rfst_pkg/sub.py": "X = 1\n",
    "rfst_pkg/lazy.py": "Y = 2\n",
    "rfst_pkg/data.txt": "hello\n",
    "rfst_pkg/assets/more.txt": "more\n",
    "rfst_pkg/inner/__init__.py": "",
    "rfst_pkg/inner/secret.txt": "not a data file of rfst_pkg\n",
}


def test_a_module_is_a_tree_file_whose_code_and_tracebacks_show_the_client_path(env):
    client, src = env.serve(PACKAGE, {"rfst_mod"})
    module = importlib.import_module("rfst_mod")

    assert module.__file__ == str(env.runs / "run1" / "0" / "rfst_mod.py")
    assert os.path.isfile(module.__file__)
    assert not os.path.exists(src)
    assert module.f.__code__.co_filename == src + "/rfst_mod.py"
    with pytest.raises(ValueError) as raised:
        module.f()
    text = "".join(traceback.format_exception(raised.value))
    assert f'File "{src}/rfst_mod.py", line 2, in f' in text
    assert "raise ValueError('boom')" in text
    assert inspect.getsource(module.f) == "def f():\n    raise ValueError('boom')\n"


def test_a_package_brings_its_init_and_data_files_but_not_its_modules_or_subpackages(env):
    client, src = env.serve(PACKAGE, {"rfst_pkg"})
    package = importlib.import_module("rfst_pkg")
    tree_pkg = env.runs / "run1" / "0" / "rfst_pkg"

    assert package.__path__ == [str(tree_pkg)]
    assert package.__file__ == str(tree_pkg / "__init__.py")
    assert package.sub.X == 1
    assert (tree_pkg / "data.txt").read_text() == "hello\n"
    assert (tree_pkg / "assets" / "more.txt").read_text() == "more\n"
    assert not (tree_pkg / "lazy.py").exists()
    assert not (tree_pkg / "inner").exists()
    assert not os.path.exists(src)


def test_resources_pkgutil_and_open_beside_file_read_the_package_data(env):
    env.serve(PACKAGE, {"rfst_pkg"})
    package = importlib.import_module("rfst_pkg")

    files = importlib.resources.files("rfst_pkg")
    assert files.joinpath("data.txt").read_text() == "hello\n"
    assert {"data.txt", "assets", "__init__.py"} <= {p.name for p in files.iterdir()}
    assert pkgutil.get_data("rfst_pkg", "assets/more.txt") == b"more\n"
    with open(os.path.join(os.path.dirname(package.__file__), "data.txt")) as file:
        assert file.read() == "hello\n"


def test_pkgutil_iter_modules_lists_the_manifest_including_modules_not_yet_materialized(env):
    env.serve(PACKAGE, {"rfst_pkg"})
    package = importlib.import_module("rfst_pkg")

    listed = sorted(pkgutil.iter_modules(package.__path__, "rfst_pkg."))
    assert [(m.name, m.ispkg) for m in listed] == [
        ("rfst_pkg.inner", True), ("rfst_pkg.lazy", False), ("rfst_pkg.sub", False)
    ]
    assert not os.path.exists(os.path.join(package.__path__[0], "lazy.py"))
    assert importlib.import_module("rfst_pkg.lazy").Y == 2


def test_the_clients_distribution_comes_before_the_workers(env, tmp_path):
    site = tmp_path / "worker-site" / "rfst_dist-0.0.1.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: rfst-dist\nVersion: 0.0.1\n")
    sys.path.insert(0, str(site.parent))
    assert importlib.metadata.version("rfst-dist") == "0.0.1"

    files = {
        "rfst_dist-1.2.3.dist-info/METADATA": "Metadata-Version: 2.1\nName: rfst-dist\nVersion: 1.2.3\n",
        "rfst_dist-1.2.3.dist-info/entry_points.txt": "[rfst.plugins]\nhello = rfst_dist_mod:hello\n",
        "rfst_dist-1.2.3.dist-info/RECORD": "rfst_dist_mod.py,sha256=x,40\n",
        "rfst_dist-1.2.3.dist-info/licenses/LICENSE": "MIT\n",
        "rfst_dist_mod.py": "def hello():\n    return 'from the client'\n",
    }
    client, _ = env.serve(files, {"rfst_dist_mod"})

    assert importlib.metadata.version("rfst_dist") == "1.2.3"
    (point,) = importlib.metadata.entry_points(group="rfst.plugins")
    assert point.name == "hello"
    assert point.load()() == "from the client"
    # RECORD and licenses/ are big or rarely read: fetched only when read, then as locally.
    assert client.index("rfst_dist-1.2.3.dist-info/RECORD") not in client.requested_entries()
    distribution = importlib.metadata.distribution("rfst_dist")
    assert [str(f) for f in distribution.files] == ["rfst_dist_mod.py"]
    assert client.index("rfst_dist-1.2.3.dist-info/RECORD") in client.requested_entries()
    assert distribution.read_text("licenses/LICENSE") == "MIT\n"


def test_a_native_extension_alone_is_explained_and_a_py_beside_it_wins(env):
    so = "_speed.cpython-311-x86_64-linux-gnu.so"
    client, src = env.serve(
        {
            "rfst_nat/__init__.py": "from . import _speed\n",
            f"rfst_nat/{so}": b"\x7fELF",
            "rfst_both/__init__.py": "from . import _speed\n",
            f"rfst_both/{so}": b"\x7fELF",
            "rfst_both/_speed.py": "PURE = True\n",
        },
        {"rfst_nat", "rfst_both"},
    )
    with pytest.raises(ModuleNotFoundError) as raised:
        importlib.import_module("rfst_nat")
    assert str(raised.value) == (
        f"cannot import 'rfst_nat._speed': {src}/rfst_nat/{so} is a native extension; rfs serves "
        "only Python source — install the package on the worker"
    )
    assert importlib.import_module("rfst_both")._speed.PURE


def test_source_the_client_withheld_as_too_large_is_an_import_error_naming_file_and_size(env):
    client, src = env.serve(
        {"rfst_big.py": "#" * 2047 + "\n", "rfst_bigpkg/__init__.py": "#" * 99 + "\n", "rfst_ok.py": "OK = 1\n"},
        {"rfst_big", "rfst_bigpkg", "rfst_ok"},
        withhold={"rfst_big.py", "rfst_bigpkg/__init__.py"},
    )
    with pytest.raises(ImportError) as raised:
        importlib.import_module("rfst_big")
    assert not isinstance(raised.value, ModuleNotFoundError)
    assert str(raised.value) == (
        f"cannot import 'rfst_big': {src}/rfst_big.py is 2.0 KiB (2048 bytes), over the client's "
        "per-file limit (--max-file-size); the client does not serve it"
    )
    assert raised.value.path == f"{src}/rfst_big.py"
    with pytest.raises(ImportError, match=r"rfst_bigpkg/__init__\.py is 100 bytes, over"):
        importlib.import_module("rfst_bigpkg")
    assert importlib.import_module("rfst_ok").OK == 1
    withheld = {client.index("rfst_big.py"), client.index("rfst_bigpkg/__init__.py")}
    assert not withheld & set(e if isinstance(e, int) else e[0] for e in client.requested_entries())


def test_a_blob_that_does_not_match_its_sha_fails_the_import_naming_the_path(env, tmp_path):
    client, src = env.serve(
        {"rfst_bad.py": "x = 1\n"}, {"rfst_bad"}, corrupt={"rfst_bad.py": b"x = 2\n"}
    )
    with pytest.raises(ImportError) as raised:
        importlib.import_module("rfst_bad")
    message = str(raised.value)
    assert message.startswith(f"cannot import 'rfst_bad': {src}/rfst_bad.py: ")
    assert "sha256" in message
    assert [p for p in env.store.rglob("*") if p.is_file()] == []  # nothing wrong was stored


def test_a_failed_entry_fails_the_import_with_the_clients_message(env):
    client, src = env.serve(
        {"rfst_gone.py": "x = 1\n"}, {"rfst_gone"},
        fail={"rfst_gone.py": "src/rfst_gone.py changed on the client since the run started"},
    )
    with pytest.raises(ImportError) as raised:
        importlib.import_module("rfst_gone")
    assert str(raised.value) == (
        f"cannot import 'rfst_gone': {src}/rfst_gone.py: the client could not send it: "
        "src/rfst_gone.py changed on the client since the run started"
    )


def test_big_blobs_arrive_in_chunks_and_are_reassembled(env):
    big = "DATA = " + repr("x" * 5000 + "é" * 3000) + "\n"
    folder = env.folder("src", {"rfst_big.py": big})
    client = env.client([(folder, "source")])
    env.activate(client, {"rfst_big"}, max_reply_bytes=1000)

    module = importlib.import_module("rfst_big")
    assert module.DATA == "x" * 5000 + "é" * 3000
    offsets = [e for e in client.requested_entries() if isinstance(e, list)]
    assert len(client.requests) > 10
    assert offsets and all(offset > 0 for _, offset in offsets)


def test_prefetched_blobs_are_stored_and_spare_later_requests(env):
    client, _ = env.serve(PACKAGE, {"rfst_pkg", "rfst_mod"}, prefetch=True)
    importlib.import_module("rfst_pkg")
    assert len(client.requests) == 1
    importlib.import_module("rfst_mod")
    importlib.import_module("rfst_pkg.lazy")
    assert len(client.requests) == 1


def test_code_comes_from_the_cache_in_a_later_run_with_the_new_client_path(env, monkeypatch):
    first = env.folder("a", {"rfst_cached.py": "def g():\n    return 7\n"})
    second = env.folder("b", {"rfst_cached.py": "def g():\n    return 7\n"})
    client_a = env.client([(first, "source")])
    client_b = env.client([(second, "source")], id="conn-2")
    env.activate(client_a, {"rfst_cached"})
    importlib.import_module("rfst_cached")
    assert tree.run_stats() == {"requests": 1, "blobs_received": 1, "bytes_received": 22, "compiled": 1, "seconds_waiting": pytest.approx(0, abs=5),
                                "code_cache_hits": 0}
    cache_files = list((env.store / "code").rglob("*"))
    assert any(p.is_file() for p in cache_files)

    compiled = []
    real_compile = builtins.compile
    monkeypatch.setattr(builtins, "compile", lambda *a, **k: compiled.append(a) or real_compile(*a, **k))
    env.activate(client_b, {"rfst_cached"}, run="run2")
    module = importlib.import_module("rfst_cached")

    assert module.g() == 7
    assert module.g.__code__.co_filename == second + "/rfst_cached.py"
    assert [a for a in compiled if "rfst_cached" in str(a[1:2])] == []
    assert client_b.requests == []
    assert module.__file__ == str(env.runs / "run2" / "0" / "rfst_cached.py")
    assert tree.run_stats() == {"requests": 0, "blobs_received": 0, "bytes_received": 0, "seconds_waiting": 0, "compiled": 0,
                                "code_cache_hits": 1}


def test_concurrent_writers_of_one_blob_leave_one_whole_blob(tmp_path):
    import hashlib

    data = os.urandom(200_000)
    sha = hashlib.sha256(data).hexdigest()
    stores = [Store(str(tmp_path / "store")) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    errors = []

    def write(store):
        try:
            writer = store.writer(sha, len(data))
            barrier.wait()
            for start in range(0, len(data), 4096):
                writer.write(data[start : start + 4096])
            writer.finish()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    blob = tmp_path / "store" / "blobs" / sha[:2] / sha
    assert blob.read_bytes() == data
    assert oct(blob.stat().st_mode & 0o777) == oct(0o444)
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


def test_a_new_tree_replaces_the_old_and_no_tree_restores_fetch_module(env, plugin):
    a = env.folder("a", {"rfst_sw.py": "V = 1\n"})
    b = env.folder("b", {"rfst_sw.py": "V = 2\n"})
    client_a, client_b = env.client([(a, "source")]), env.client([(b, "source")])
    fetch_finder = object()
    sys.meta_path.insert(0, fetch_finder)

    env.activate(client_a, {"rfst_sw"}, hide=[fetch_finder])
    assert importlib.import_module("rfst_sw").V == 1
    assert fetch_finder not in sys.meta_path
    pkgutil.get_importer(str(env.runs / "run1" / "0"))
    env.activate(client_b, {"rfst_sw"}, run="run2", hide=[fetch_finder])
    assert importlib.import_module("rfst_sw").V == 2
    finders = [f for f in sys.meta_path if type(f).__name__ == "TreeFinder"]
    assert len(finders) == 1 and sys.meta_path[0] is finders[0]
    assert not [k for k in sys.path_importer_cache if str(k).startswith(str(env.runs / "run1"))]

    tree.set_run_tree(None, plugin, None)
    assert sys.meta_path[0] is fetch_finder
    assert not [f for f in sys.meta_path if type(f).__name__ == "TreeFinder"]
    assert tree.path_hook not in sys.path_hooks


def test_the_worker_reports_no_frame_of_remote_file_source(env, monkeypatch):
    monkeypatch.setitem(sys.modules, "_rfs_bridge", types.ModuleType("_rfs_bridge"))
    from remote_file_source import worker

    client, src = env.serve({"rfst_syntax.py": "x = (\n"}, {"rfst_syntax"})
    with pytest.raises(SyntaxError) as raised:
        importlib.import_module("rfst_syntax")
    described = worker._describe(raised.value)
    assert f'File "{src}/rfst_syntax.py", line 1' in described["traceback"]
    ours = os.path.dirname(tree.__file__)
    assert ours in "".join(traceback.format_exception(raised.value))  # get_code's frame is there
    assert ours not in described["traceback"]


def test_a_reply_the_budget_cut_short_is_continued_in_the_background(env):
    # Replies of at most 40 bytes: the first carries the module asked for, the rest follows.
    files = {"rfst_bg_first.py": "A = 1\n"}
    files.update({f"rfst_bg_{i}.py": f"V = {i}  # padding to make it longer\n" for i in range(6)})
    client = env.client([(env.folder("src", files), "source")], prefetch=True)
    env.activate(client, {"rfst_bg_first"} | {f"rfst_bg_{i}" for i in range(6)}, max_reply_bytes=40)

    importlib.import_module("rfst_bg_first")
    for thread in [t for t in threading.enumerate() if t.name == "rfs-tree-prefetch"]:
        thread.join(timeout=30)
        assert not thread.is_alive()

    first = client.index("rfst_bg_first.py")
    assert client.requests[0]["params"]["entries"] == [first]
    continued = client.requests[1:]
    assert continued, "nothing was continued in the background"
    assert all(r["params"]["entries"] == [] and r["params"]["prefetch_for"] == [first] for r in continued)
    assert all(Store(str(env.store)).has_blob(sha) for _, _, sha in client.entries if sha)
    count = len(client.requests)
    assert [importlib.import_module(f"rfst_bg_{i}").V for i in range(6)] == list(range(6))
    assert len(client.requests) == count  # everything was already in the store


def test_prefetched_modules_are_compiled_ahead_by_a_helper_process(tmp_path):
    import hashlib

    from remote_file_source.tree_compile import CompileAhead

    store = Store(str(tmp_path / "store"))
    sources = {"good": b"def f():\n    return 41 + 1\n", "bad": b"def f(:\n", "other": b"X = [1, 2, 3]\n"}
    shas = {}
    for name, data in sources.items():
        sha = hashlib.sha256(data).hexdigest()
        writer = store.writer(sha, len(data))
        writer.write(data)
        writer.finish()
        shas[name] = sha

    ahead = CompileAhead(store)
    ahead.submit([shas["good"], shas["bad"], shas["other"]])
    ahead.close()
    for thread in [t for t in threading.enumerate() if t.name == "rfs-compile-ahead"]:
        thread.join(timeout=60)
        assert not thread.is_alive()

    namespace = {}
    exec(store.read_code(shas["good"]), namespace)
    assert namespace["f"]() == 42
    assert store.read_code(shas["other"]) is not None
    assert store.read_code(shas["bad"]) is None  # left to the importing thread, which reports it
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


def test_store_lookups_count_each_needed_file_once_as_a_hit_or_a_miss(env):
    files = {"rfst_lookup_a.py": "A = 1\n", "rfst_lookup_b.py": "B = 2\n"}
    client = env.client([(env.folder("lookups", files), "source")])
    env.activate(client, {"rfst_lookup_a", "rfst_lookup_b"})
    importlib.import_module("rfst_lookup_a")
    assert tree.take_store_lookups() == (0, 1)  # asked of the client
    assert tree.take_store_lookups() == (0, 0)  # each lookup is reported once

    # A later run's tree over the same store: a is stored already, b is not.
    env.activate(client, {"rfst_lookup_a", "rfst_lookup_b"}, run="run2")
    importlib.import_module("rfst_lookup_a")
    importlib.import_module("rfst_lookup_b")
    assert tree.take_store_lookups() == (1, 1)
    tree.set_run_tree(None, env.plugin, None)
    assert tree.take_store_lookups() is None
