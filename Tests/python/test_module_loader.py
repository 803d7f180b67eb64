"""What a remote module looks like once imported (DESIGN §3, import semantics)."""

from __future__ import annotations

import importlib
import importlib.abc
import inspect
import linecache
import runpy
import sys
import traceback

import pytest

from rfs_fakes import CLIENT_ROOT, FakeConnection, client_path
from remote_file_source import RemoteModuleLoader


@pytest.fixture
def serve(plugin, install_finder):
    """Serve ``files`` for these top-level names through a fresh connection."""

    def serve(files: dict[str, str], names, **connection_kwargs) -> FakeConnection:
        connection = FakeConnection(files=files, **connection_kwargs)
        install_finder(connection)
        plugin.set_execution_context(connection.id, names)
        return connection

    return serve


# -- spec and module attributes ------------------------------------------------


def test_module_attributes(serve):
    serve({"rfst_attrs.py": "x = 1\n"}, {"rfst_attrs"})
    module = importlib.import_module("rfst_attrs")

    assert module.__file__ == client_path("rfst_attrs.py")
    assert module.__spec__.origin == client_path("rfst_attrs.py")
    assert module.__spec__.has_location
    assert module.__spec__.cached is None
    assert module.__cached__ is None
    assert module.__spec__.submodule_search_locations is None
    assert not hasattr(module, "__path__")
    assert module.__package__ == ""
    assert isinstance(module.__loader__, importlib.abc.InspectLoader)


def test_package_attributes(serve):
    serve({"rfst_pkgattr/__init__.py": "x = 1\n"}, {"rfst_pkgattr"})
    package = importlib.import_module("rfst_pkgattr")

    assert package.__file__ == client_path("rfst_pkgattr/__init__.py")
    assert package.__path__ == [client_path("rfst_pkgattr")]
    assert package.__package__ == "rfst_pkgattr"
    assert package.__loader__.is_package("rfst_pkgattr")


def test_loader_answers_inspect_loader_questions(serve):
    source = "def f():\n    return 42\n"
    serve({"rfst_loaderq.py": source}, {"rfst_loaderq"})
    module = importlib.import_module("rfst_loaderq")
    loader = module.__loader__

    assert loader.get_source("rfst_loaderq") == source
    assert loader.get_filename("rfst_loaderq") == client_path("rfst_loaderq.py")
    assert loader.is_package("rfst_loaderq") is False
    code = loader.get_code("rfst_loaderq")
    assert code.co_filename == client_path("rfst_loaderq.py")
    with pytest.raises(ImportError):
        loader.get_source("rfst_some_other_module")


def test_a_pseudo_origin_sets_origin_but_no_file(serve):
    serve(
        {},
        {"rfst_script"},
        responses={"rfst_script": {"result": {"filepath": "<script>", "source": "x = 1\n"}}},
    )
    module = importlib.import_module("rfst_script")

    assert module.x == 1
    assert module.__spec__.origin == "<script>"
    assert not hasattr(module, "__file__")


def test_runpy_can_run_a_remote_module_as_main(serve):
    serve({"rfst_runme.py": "result = __name__\n"}, {"rfst_runme"})

    namespace = runpy.run_module("rfst_runme", run_name="__main__")

    assert namespace["result"] == "__main__"
    assert namespace["__file__"] == client_path("rfst_runme.py")


def test_decoded_source_with_a_coding_cookie_is_used_as_is(serve):
    source = "# -*- coding: latin-1 -*-\ntext = 'caf\u00e9'\n"
    serve({"rfst_cookie.py": source}, {"rfst_cookie"})

    assert importlib.import_module("rfst_cookie").text == "caf\u00e9"


# -- packages and relative imports -----------------------------------------------


def test_relative_imports_in_a_remote_package(serve):
    serve(
        {
            "rfst_rel/__init__.py": "from .sub import helper\nfrom . import other\n",
            "rfst_rel/sub.py": "def helper():\n    return 'helped'\n",
            "rfst_rel/other.py": "X = 'other'\n",
            "rfst_rel/inner/__init__.py": "from ..sub import helper as parent_helper\nfrom .leaf import LEAF\n",
            "rfst_rel/inner/leaf.py": "from .. import other\nLEAF = other.X + '-leaf'\n",
        },
        {"rfst_rel"},
    )

    package = importlib.import_module("rfst_rel")
    assert package.helper() == "helped"
    assert package.other.X == "other"

    inner = importlib.import_module("rfst_rel.inner")
    assert inner.parent_helper() == "helped"
    assert inner.LEAF == "other-leaf"
    assert inner.__package__ == "rfst_rel.inner"
    assert sys.modules["rfst_rel.inner.leaf"].__package__ == "rfst_rel.inner"


def test_nested_packages(serve):
    serve(
        {
            "rfst_a/__init__.py": "",
            "rfst_a/b/__init__.py": "",
            "rfst_a/b/c/__init__.py": "",
            "rfst_a/b/c/d.py": "where = __name__\n",
        },
        {"rfst_a"},
    )

    import rfst_a.b.c.d  # noqa: F401  (the statement form, as users write it)

    assert sys.modules["rfst_a.b.c.d"].where == "rfst_a.b.c.d"
    assert sys.modules["rfst_a.b.c"].__path__ == [client_path("rfst_a/b/c")]
    assert sys.modules["rfst_a.b.c.d"].__spec__.parent == "rfst_a.b.c"
    assert sys.modules["rfst_a.b"].c is sys.modules["rfst_a.b.c"]


def test_namespace_packages_have_a_path_and_no_file(serve):
    serve({"rfst_ns/deeper/mod.py": "value = 'in namespace'\n"}, {"rfst_ns"})

    from rfst_ns.deeper import mod

    namespace = sys.modules["rfst_ns"]
    assert mod.value == "in namespace"
    assert namespace.__spec__.origin is None
    assert not namespace.__spec__.has_location
    assert getattr(namespace, "__file__", None) is None
    assert list(namespace.__path__) == [client_path("rfst_ns")]
    assert list(sys.modules["rfst_ns.deeper"].__path__) == [client_path("rfst_ns/deeper")]


def test_old_result_shape_module_and_package(serve):
    serve(
        {"rfst_old/__init__.py": "from .mod import VALUE\n", "rfst_old/mod.py": "VALUE = 'old shape'\n"},
        {"rfst_old"},
        shape="old",
    )

    package = importlib.import_module("rfst_old")

    assert package.VALUE == "old shape"
    assert package.__file__ == client_path("rfst_old/__init__.py")
    assert package.__path__ == [client_path("rfst_old")]
    module = sys.modules["rfst_old.mod"]
    assert module.__file__ == client_path("rfst_old/mod.py")
    assert not hasattr(module, "__path__")


def test_old_result_shape_with_windows_path(serve):
    origin = "C:\\Users\\dev\\src\\rfst_win\\__init__.py"
    serve({}, {"rfst_win"}, responses={"rfst_win": {"result": {"filepath": origin, "source": "x = 1\n"}}})

    package = importlib.import_module("rfst_win")

    assert package.__path__ == ["C:\\Users\\dev\\src\\rfst_win"]


# -- source lines: tracebacks, linecache, inspect ------------------------------------

BOOM = 'def explode():\n    message = "kaboom from the client"\n    raise ValueError(message)\n'


def test_traceback_shows_client_path_and_source_line(serve):
    serve({"rfst_boom.py": BOOM}, {"rfst_boom"})
    module = importlib.import_module("rfst_boom")

    with pytest.raises(ValueError):
        try:
            module.explode()
        except ValueError:
            text = traceback.format_exc()
            raise

    assert f'File "{client_path("rfst_boom.py")}", line 3, in explode' in text
    assert "    raise ValueError(message)" in text


def test_traceback_for_an_error_while_the_module_body_runs(serve):
    serve({"rfst_bad_body.py": "x = 1\nresult = 1 / 0\n"}, {"rfst_bad_body"})

    with pytest.raises(ZeroDivisionError) as info:
        importlib.import_module("rfst_bad_body")

    text = "".join(traceback.format_exception(info.value))
    assert f'File "{client_path("rfst_bad_body.py")}", line 2, in <module>' in text
    assert "result = 1 / 0" in text


def test_traceback_lines_still_resolve_after_linecache_is_cleared(serve):
    serve({"rfst_boom2.py": BOOM}, {"rfst_boom2"})
    module = importlib.import_module("rfst_boom2")
    linecache.clearcache()

    try:
        module.explode()
    except ValueError:
        text = traceback.format_exc()

    assert "raise ValueError(message)" in text


def test_linecache_getline_without_module_globals(serve):
    serve({"rfst_lines.py": BOOM}, {"rfst_lines"})
    importlib.import_module("rfst_lines")

    origin = client_path("rfst_lines.py")
    assert linecache.getline(origin, 2) == '    message = "kaboom from the client"\n'
    linecache.checkcache(origin)  # the file does not exist here: the entry must survive
    assert linecache.getline(origin, 3) == "    raise ValueError(message)\n"


def test_linecache_follows_the_newest_fetched_source(plugin, serve):
    connection = serve({"rfst_changes.py": "first = 1\n"}, {"rfst_changes"})
    importlib.import_module("rfst_changes")
    origin = client_path("rfst_changes.py")
    assert linecache.getline(origin, 1) == "first = 1\n"

    connection.files["rfst_changes.py"] = "second = 2\n"
    plugin.set_execution_context(connection.id, {"rfst_changes"})
    importlib.import_module("rfst_changes")

    assert linecache.getline(origin, 1) == "second = 2\n"


def test_inspect_getsource_of_function_class_and_module(serve):
    source = "def greet(name):\n    return 'hi ' + name\n\n\nclass Thing:\n    size = 3\n"
    serve({"rfst_insp.py": source}, {"rfst_insp"})
    module = importlib.import_module("rfst_insp")

    assert inspect.getsource(module.greet) == "def greet(name):\n    return 'hi ' + name\n"
    assert inspect.getsource(module.Thing) == "class Thing:\n    size = 3\n"
    assert inspect.getsource(module) == source
    assert inspect.getsourcefile(module.greet) == client_path("rfst_insp.py")


def test_syntax_error_reports_client_path_and_line(serve):
    serve({"rfst_syntax.py": "x = 1\ny = 2\ndef broken(:\n    pass\n"}, {"rfst_syntax"})

    with pytest.raises(SyntaxError) as info:
        importlib.import_module("rfst_syntax")

    assert info.value.filename == client_path("rfst_syntax.py")
    assert info.value.lineno == 3
    assert "def broken(:" in info.value.text
    assert "rfst_syntax" not in sys.modules


def test_no_source_file_ever_exists_on_the_worker():
    # Guard for the tests above: the lines they see cannot have come from disk.
    import os

    assert not os.path.exists(CLIENT_ROOT)


def test_loader_accepts_the_reference_constructor():
    loader = RemoteModuleLoader("value = 5\n")
    module = type(sys)("rfst_direct")
    loader.exec_module(module)
    assert module.value == 5
