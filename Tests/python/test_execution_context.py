"""Which finder serves an import, as the execution context changes (DESIGN §3)."""

from __future__ import annotations

import importlib
import sys

import pytest

from rfs_fakes import FakeConnection, client_path


def write_local_module(directory, name: str, source: str) -> None:
    """A module on the worker's own sys.path."""
    (directory / f"{name}.py").write_text(source)
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    importlib.invalidate_caches()


def test_local_then_remote_then_local_module_of_the_same_name(tmp_path, plugin, install_finder):
    write_local_module(tmp_path, "rfst_same", "value = 'local'\n")
    connection = FakeConnection(files={"rfst_same.py": "value = 'remote'\n"})
    install_finder(connection)

    local = importlib.import_module("rfst_same")
    assert local.value == "local"
    assert local.__file__ == str(tmp_path / "rfst_same.py")

    plugin.set_execution_context(connection.id, {"rfst_same"})
    remote = importlib.import_module("rfst_same")
    assert remote.value == "remote"
    assert remote.__file__ == client_path("rfst_same.py")

    plugin.set_execution_context(connection.id, set())
    again = importlib.import_module("rfst_same")
    assert again.value == "local"
    assert again.__file__ == str(tmp_path / "rfst_same.py")


def test_nothing_then_remote_then_nothing(plugin, install_finder):
    connection = FakeConnection(files={"rfst_only_remote.py": "value = 'remote'\n"})
    install_finder(connection)

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rfst_only_remote")

    plugin.set_execution_context(connection.id, {"rfst_only_remote"})
    assert importlib.import_module("rfst_only_remote").value == "remote"

    plugin.set_execution_context(connection.id, set())
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rfst_only_remote")


def test_a_remote_package_shadows_a_local_package_and_its_submodules(tmp_path, plugin, install_finder):
    local_pkg = tmp_path / "rfst_shadow"
    local_pkg.mkdir()
    (local_pkg / "__init__.py").write_text("origin = 'local'\n")
    (local_pkg / "sub.py").write_text("origin = 'local'\n")
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    assert importlib.import_module("rfst_shadow.sub").origin == "local"

    connection = FakeConnection(
        files={"rfst_shadow/__init__.py": "origin = 'remote'\n", "rfst_shadow/sub.py": "origin = 'remote'\n"}
    )
    install_finder(connection)
    plugin.set_execution_context(connection.id, {"rfst_shadow"})

    assert importlib.import_module("rfst_shadow").origin == "remote"
    assert importlib.import_module("rfst_shadow.sub").origin == "remote"


def test_context_of_another_connection_is_not_served(plugin, install_finder):
    connection = FakeConnection(id="mine", files={"rfst_mismatch.py": "value = 1\n"})
    install_finder(connection)
    plugin.set_execution_context("someone-else", {"rfst_mismatch"})

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rfst_mismatch")
    assert connection.calls == []


def test_a_connection_without_id_serves_nothing(plugin, install_finder):
    connection = FakeConnection(id=None, files={"rfst_anon.py": "value = 1\n"})
    install_finder(connection)
    plugin.set_execution_context(None, {"rfst_anon"})

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rfst_anon")
    assert connection.calls == []


def test_names_may_be_given_as_a_dict(plugin, install_finder):
    connection = FakeConnection(files={"rfst_from_dict.py": "value = 'remote'\n"})
    install_finder(connection)
    plugin.set_execution_context(connection.id, {"rfst_from_dict": "ignored value"})

    assert importlib.import_module("rfst_from_dict").value == "remote"


def test_names_outside_the_context_are_never_requested(plugin, install_finder):
    connection = FakeConnection(files={"rfst_foobar.py": "value = 1\n", "rfst_foo.py": "value = 2\n"})
    install_finder(connection)
    plugin.set_execution_context(connection.id, {"rfst_foo"})

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rfst_foobar")
    assert connection.calls == []
    assert importlib.import_module("rfst_foo").value == 2
    assert connection.calls == ["rfst_foo"]


def test_source_is_read_at_fetch_time(plugin, install_finder):
    connection = FakeConnection(files={"rfst_fresh.py": "value = 1\n"})
    install_finder(connection)
    plugin.set_execution_context(connection.id, {"rfst_fresh"})
    assert importlib.import_module("rfst_fresh").value == 1

    connection.files["rfst_fresh.py"] = "value = 2\n"
    plugin.set_execution_context(connection.id, {"rfst_fresh"})  # a new run: cache evicted
    assert importlib.import_module("rfst_fresh").value == 2


def test_reload_fetches_the_source_again(plugin, install_finder):
    connection = FakeConnection(files={"rfst_reload.py": "value = 1\n"})
    install_finder(connection)
    plugin.set_execution_context(connection.id, {"rfst_reload"})
    module = importlib.import_module("rfst_reload")

    connection.files["rfst_reload.py"] = "value = 2\n"
    assert importlib.reload(module).value == 2
    assert connection.calls == ["rfst_reload", "rfst_reload"]


def test_module_names_are_requested_with_fetch_module(plugin, install_finder):
    connection = FakeConnection(files={"rfst_pkg_req/__init__.py": "", "rfst_pkg_req/mod.py": ""})
    install_finder(connection)
    plugin.set_execution_context(connection.id, {"rfst_pkg_req"})

    importlib.import_module("rfst_pkg_req.mod")

    assert connection.calls == ["rfst_pkg_req", "rfst_pkg_req.mod"]
    request = connection.requests[0]
    assert request["jsonrpc"] == "2.0"
    assert request["method"] == "fetch_module"
    assert request["params"] == {"module_name": "rfst_pkg_req"}
    assert connection.requests[0]["id"] != connection.requests[1]["id"]
