"""How the finder turns client answers and transport failures into import outcomes.

Not found → None (a normal ModuleNotFoundError); anything else that goes
wrong → ImportError naming the module and the cause; never a bare
TimeoutError, never a hang.
"""

from __future__ import annotations

import importlib
import socket

import pytest

from rfs_fakes import FakeConnection


@pytest.fixture
def context(plugin, install_finder):
    def context(connection: FakeConnection, names, **finder_kwargs):
        finder = install_finder(connection, **finder_kwargs)
        plugin.set_execution_context(connection.id, names)
        return finder

    return context


def test_null_result_is_module_not_found(context):
    connection = FakeConnection(responses={"rfst_missing": {"result": None}})
    context(connection, {"rfst_missing"})

    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module("rfst_missing")
    assert info.value.name == "rfst_missing"
    assert connection.calls == ["rfst_missing"]


def test_missing_submodule_is_module_not_found(context):
    connection = FakeConnection(files={"rfst_has/__init__.py": ""})
    context(connection, {"rfst_has"})

    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module("rfst_has.nope")
    assert info.value.name == "rfst_has.nope"


def test_invalid_params_error_is_module_not_found(context):
    connection = FakeConnection(
        responses={"rfst_gone": {"error": {"code": -32602, "message": "module not found"}}}
    )
    context(connection, {"rfst_gone"})

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("rfst_gone")


def test_an_error_that_is_not_an_error_object_is_module_not_found(context):
    # The reference plugin's own test connections answer a bare string for a module they
    # lack; the reference treats any error as "not found", and so do we for this shape.
    connection = FakeConnection(responses={"rfst_absent": {"error": "Module rfst_absent not found"}})
    context(connection, {"rfst_absent"})

    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module("rfst_absent")
    assert info.value.name == "rfst_absent"
    assert connection.calls == ["rfst_absent"]


def test_other_error_codes_are_import_errors_with_code_and_message(context):
    connection = FakeConnection(
        responses={"rfst_broken": {"error": {"code": -32603, "message": "cannot decode rfst_broken.py"}}}
    )
    context(connection, {"rfst_broken"})

    with pytest.raises(ImportError) as info:
        importlib.import_module("rfst_broken")

    assert not isinstance(info.value, ModuleNotFoundError)
    assert info.value.name == "rfst_broken"
    text = str(info.value)
    assert "rfst_broken" in text and "-32603" in text and "cannot decode rfst_broken.py" in text


def test_source_unavailable_is_an_import_error_saying_exactly_what_the_client_said(context):
    message = "cannot decode /src/rfst_undecodable.py: line 3 is not valid utf-8 (byte 0xff at column 5: invalid start byte)"
    connection = FakeConnection(
        responses={
            "rfst_undecodable": {
                "error": {
                    "code": -32010,
                    "message": message,
                    "data": {"path": "/src/rfst_undecodable.py", "reason": "undecodable", "line": 3, "encoding": "utf-8"},
                }
            }
        }
    )
    context(connection, {"rfst_undecodable"})

    with pytest.raises(ImportError) as info:
        importlib.import_module("rfst_undecodable")

    assert not isinstance(info.value, ModuleNotFoundError)
    assert str(info.value) == message
    assert info.value.name == "rfst_undecodable"
    assert info.value.path == "/src/rfst_undecodable.py"


@pytest.mark.parametrize(
    "failure, cause_text",
    [
        (TimeoutError("no answer within 5 s"), "timed out"),
        (socket.timeout("timed out"), "timed out"),
        (ConnectionError("peer went away"), "lost the connection"),
        (ConnectionResetError("reset"), "lost the connection"),
        (BrokenPipeError("pipe"), "lost the connection"),
        (EOFError(), "lost the connection"),
        (OSError("network down"), "transport error"),
        (RuntimeError("bridge exploded"), "request to the client failed"),
    ],
)
def test_transport_failures_are_import_errors_naming_module_and_cause(context, failure, cause_text):
    connection = FakeConnection(fail_with=failure)
    context(connection, {"rfst_unreachable"})

    with pytest.raises(ImportError) as info:
        importlib.import_module("rfst_unreachable.sub")

    error = info.value
    assert not isinstance(error, ModuleNotFoundError)
    assert error.name == "rfst_unreachable"
    assert "rfst_unreachable" in str(error)
    assert cause_text in str(error)
    assert error.__cause__ is failure


def test_timeout_is_not_raised_as_timeout_error(context):
    context(FakeConnection(fail_with=TimeoutError("slow client")), {"rfst_slow"})

    with pytest.raises(Exception) as info:
        importlib.import_module("rfst_slow")

    assert type(info.value) is ImportError
    assert "slow client" in str(info.value)


def test_keyboard_interrupt_is_not_swallowed(context):
    context(FakeConnection(fail_with=KeyboardInterrupt()), {"rfst_interrupted"})

    with pytest.raises(KeyboardInterrupt):
        importlib.import_module("rfst_interrupted")


def test_finder_timeout_is_passed_to_the_connection(context):
    connection = FakeConnection(files={"rfst_t.py": ""})
    context(connection, {"rfst_t"}, timeout=2.5)

    importlib.import_module("rfst_t")

    assert connection.timeouts == [2.5]


@pytest.mark.parametrize(
    "response",
    [
        {"result": "not an object"},
        {"result": {"name": "rfst_bad", "origin": 3, "source": "x = 1"}},
        {"result": {"name": "rfst_bad", "origin": "/x/rfst_bad.py", "source": "x = 1", "is_package": "yes"}},
        {"result": {"name": "rfst_bad", "origin": "/x/rfst_bad.py", "source": 7}},
        {"result": {"name": "rfst_bad", "origin": None, "source": None, "submodule_search_locations": "/x"}},
    ],
)
def test_malformed_results_are_import_errors(context, response):
    context(FakeConnection(responses={"rfst_bad": response}), {"rfst_bad"})

    with pytest.raises(ImportError) as info:
        importlib.import_module("rfst_bad")

    assert not isinstance(info.value, ModuleNotFoundError)
    assert "malformed" in str(info.value)


def test_a_response_without_result_or_error_is_an_import_error(context):
    connection = FakeConnection()
    connection.request_data_sync = lambda request, timeout=None: {"jsonrpc": "2.0", "id": request["id"]}
    context(connection, {"rfst_empty_response"})

    with pytest.raises(ImportError, match="malformed response"):
        importlib.import_module("rfst_empty_response")


def test_an_answer_for_another_module_is_refused(context):
    response = {"result": {"name": "rfst_other", "origin": "/x/rfst_other.py", "is_package": False, "source": ""}}
    context(FakeConnection(responses={"rfst_asked": response}), {"rfst_asked"})

    with pytest.raises(ImportError, match="rfst_other"):
        importlib.import_module("rfst_asked")


def test_invalidate_caches_is_harmless(context):
    finder = context(FakeConnection(files={"rfst_inv.py": "x = 1\n"}), {"rfst_inv"})

    finder.invalidate_caches()
    importlib.invalidate_caches()

    assert importlib.import_module("rfst_inv").x == 1
