"""Prefetched modules: a package's reply carries the modules below it, served without asking again."""

from __future__ import annotations

import importlib
import sys

import pytest

from rfs_fakes import FakeConnection, client_path, module_index

PACKAGE = {
    "rfst_pre/__init__.py": "from . import a, sub\n",
    "rfst_pre/a.py": "A = 'a'\n",
    "rfst_pre/sub/__init__.py": "from .b import B\n",
    "rfst_pre/sub/b.py": "B = 'b'\n",
    "rfst_pre/lazy.py": "LAZY = 1\n",
}


@pytest.fixture
def serve(plugin, install_finder):
    def serve(files, names, **finder_kwargs):
        connection = FakeConnection(files=files, prefetch=True)
        finder = install_finder(connection, **finder_kwargs)
        plugin.set_execution_context(connection.id, names)
        return connection, finder

    return serve


def test_a_package_and_everything_it_imports_cost_one_request(serve):
    connection, _ = serve(PACKAGE, {"rfst_pre"})
    package = importlib.import_module("rfst_pre")

    assert connection.calls == ["rfst_pre"]
    assert package.a.A == "a" and package.sub.B == "b"
    assert sys.modules["rfst_pre.sub.b"].__file__ == client_path("rfst_pre/sub/b.py")
    assert sys.modules["rfst_pre.sub"].__path__ == [client_path("rfst_pre/sub")]


def test_prefetched_modules_keep_source_lines_for_tracebacks(serve):
    import linecache

    serve(PACKAGE, {"rfst_pre"})
    importlib.import_module("rfst_pre")
    assert linecache.getline(client_path("rfst_pre/a.py"), 1) == "A = 'a'\n"


def test_a_prefetched_module_is_used_once(serve):
    connection, _ = serve(PACKAGE, {"rfst_pre"})
    importlib.import_module("rfst_pre")
    del sys.modules["rfst_pre.a"]
    importlib.import_module("rfst_pre.a")

    assert connection.calls == ["rfst_pre", "rfst_pre.a"]


def test_expired_prefetched_modules_are_asked_for_afresh(serve):
    connection, _ = serve(PACKAGE, {"rfst_pre"}, prefetch_ttl=-1.0)
    connection.files["rfst_pre/lazy.py"] = "LAZY = 2\n"  # what the disk says at the lazy import
    importlib.import_module("rfst_pre")
    lazy = importlib.import_module("rfst_pre.lazy")

    assert connection.calls == ["rfst_pre", "rfst_pre.a", "rfst_pre.sub", "rfst_pre.sub.b", "rfst_pre.lazy"]
    assert lazy.LAZY == 2


def test_invalidate_caches_discards_prefetched_modules(serve):
    connection, _ = serve(PACKAGE, {"rfst_pre"})
    importlib.import_module("rfst_pre")
    connection.files["rfst_pre/lazy.py"] = "LAZY = 3\n"
    importlib.invalidate_caches()

    assert importlib.import_module("rfst_pre.lazy").LAZY == 3
    assert connection.calls == ["rfst_pre", "rfst_pre.lazy"]


def test_entries_not_below_the_package_are_ignored(plugin, install_finder):
    index = module_index({"rfst_pre/__init__.py": "", "rfst_other.py": "X = 'client'\n"})
    evil = dict(index["rfst_other"], source="X = 'smuggled'\n")
    connection = FakeConnection(
        files={"rfst_pre/__init__.py": "", "rfst_other.py": "X = 'client'\n"},
        responses={"rfst_pre": {"result": dict(index["rfst_pre"], prefetched=[evil, "junk", None])}},
    )
    install_finder(connection)
    plugin.set_execution_context(connection.id, {"rfst_pre", "rfst_other"})
    importlib.import_module("rfst_pre")

    assert importlib.import_module("rfst_other").X == "client"
    assert connection.calls == ["rfst_pre", "rfst_other"]


def test_a_malformed_prefetched_entry_is_asked_for_instead(plugin, install_finder):
    files = {"rfst_pre/__init__.py": "", "rfst_pre/a.py": "A = 1\n"}
    index = module_index(files)
    broken = dict(index["rfst_pre.a"], source=42)
    connection = FakeConnection(
        files=files, responses={"rfst_pre": {"result": dict(index["rfst_pre"], prefetched=[broken])}}
    )
    install_finder(connection)
    plugin.set_execution_context(connection.id, {"rfst_pre"})
    importlib.import_module("rfst_pre")

    assert importlib.import_module("rfst_pre.a").A == 1
    assert connection.calls == ["rfst_pre", "rfst_pre.a"]


def test_prefetched_modules_are_not_served_outside_the_context(plugin, serve):
    connection, _ = serve(PACKAGE, {"rfst_pre"})
    importlib.import_module("rfst_pre")
    for name in [n for n in sys.modules if n.startswith("rfst_pre")]:
        del sys.modules[name]
    plugin.set_execution_context("someone-else", {"rfst_pre"})

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rfst_pre.lazy")
    assert connection.calls == ["rfst_pre"]


def test_a_plain_module_result_never_prefetches(plugin, install_finder):
    files = {"rfst_solo.py": "S = 1\n", "rfst_solo2.py": "S = 2\n"}
    index = module_index(files)
    connection = FakeConnection(
        files=files, responses={"rfst_solo": {"result": dict(index["rfst_solo"], prefetched=[index["rfst_solo2"]])}}
    )
    install_finder(connection)
    plugin.set_execution_context(connection.id, {"rfst_solo", "rfst_solo2"})
    importlib.import_module("rfst_solo")
    importlib.import_module("rfst_solo2")

    assert connection.calls == ["rfst_solo", "rfst_solo2"]
