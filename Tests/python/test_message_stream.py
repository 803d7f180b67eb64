"""MessageStream: one client session, transport-agnostic (DESIGN §3 wire protocol)."""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time

import pytest

from rfs_fakes import Outbox, client_path, module_index
from remote_file_source import MessageStream, RemoteMetaPathFinder
from remote_file_source.json_rpc import JsonRpcException, create_request_msg


def request(method, params=None, id="r1"):
    message = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message)


def response_to(message, **body):
    return json.dumps({"jsonrpc": "2.0", "id": message["id"], **body})


@pytest.fixture
def outbox():
    return Outbox()


@pytest.fixture
def stream(plugin, outbox):
    stream = MessageStream(plugin, outbox)
    yield stream
    stream.on_close()


def finders_of(stream):
    return [f for f in sys.meta_path if isinstance(f, RemoteMetaPathFinder) and f.connection is stream]


# -- requests from the client ---------------------------------------------------------


def test_request_plugin_info_reports_the_context_names(plugin, stream, outbox):
    plugin.set_execution_context("conn-1", {"rfst_b", "rfst_a"})

    stream.on_data(request("request_plugin_info", {}, id=5))

    assert outbox.last == {"jsonrpc": "2.0", "id": 5, "result": {"full_names": ["rfst_a", "rfst_b"]}}


def test_set_connection_id_uses_params_id_and_installs_a_finder_first(stream, outbox):
    assert finders_of(stream) == []

    stream.on_data(request("set_connection_id", {"id": "conn-42"}, id="req-1"))

    assert stream.id == "conn-42"
    assert outbox.last == {"jsonrpc": "2.0", "id": "req-1", "result": None}
    assert sys.meta_path[0] is stream.finder
    assert finders_of(stream) == [stream.finder]


def test_set_connection_id_falls_back_to_the_request_id(stream, outbox):
    stream.on_data(request("set_connection_id", {}, id="vscode-conn-7"))
    assert stream.id == "vscode-conn-7"

    stream.on_data(request("set_connection_id", None, id="vscode-conn-8"))
    assert stream.id == "vscode-conn-8"
    assert outbox.last == {"jsonrpc": "2.0", "id": "vscode-conn-8", "result": None}


def test_set_connection_id_again_replaces_the_finder(stream):
    stream.on_data(request("set_connection_id", {"id": "a"}, id=1))
    first = stream.finder
    stream.on_data(request("set_connection_id", {"id": "b"}, id=2))

    assert stream.finder is not first
    assert finders_of(stream) == [stream.finder]
    assert first not in sys.meta_path


def test_set_connection_id_as_a_notification(stream, outbox):
    stream.on_data(json.dumps({"jsonrpc": "2.0", "method": "set_connection_id", "params": {"id": "n"}}))

    assert stream.id == "n"
    assert outbox.messages == []


def test_connection_id_given_at_construction(plugin, outbox):
    stream = MessageStream(plugin, outbox, connection_id="early")
    try:
        assert stream.id == "early"
        assert sys.meta_path[0] is stream.finder
    finally:
        stream.on_close()


# -- bad messages never cost the session -----------------------------------------------


@pytest.mark.parametrize(
    "payload, expected_id, expected_code",
    [
        ("{not json", None, -32700),
        (b"\xff\xfe", None, -32700),
        ("[]", None, -32600),
        ('{"jsonrpc": "2.0", "id": 9}', 9, -32600),
        ('{"jsonrpc": "1.0", "id": 9, "method": "request_plugin_info"}', 9, -32600),
        ('{"jsonrpc": "2.0", "id": 9, "method": "no_such_method"}', 9, -32601),
        ('"just a string"', None, -32600),
    ],
)
def test_bad_message_gets_an_error_reply_and_the_stream_goes_on(stream, outbox, payload, expected_id, expected_code):
    stream.on_data(payload)

    reply = outbox.last
    assert reply["id"] == expected_id
    assert reply["error"]["code"] == expected_code
    assert not stream.closed

    stream.on_data(request("request_plugin_info", {}, id="after"))
    assert outbox.last == {"jsonrpc": "2.0", "id": "after", "result": {"full_names": []}}


def test_unknown_notification_is_ignored(stream, outbox):
    stream.on_data(json.dumps({"jsonrpc": "2.0", "method": "whatever"}))

    assert outbox.messages == []


def test_batch_gets_a_batch_reply(stream, outbox):
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "request_plugin_info", "params": {}},
        {"jsonrpc": "2.0", "method": "unknown_notification"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
    ]

    stream.on_data(json.dumps(batch))

    replies = outbox.last
    assert isinstance(replies, list)
    assert {r["id"]: r for r in replies}[1]["result"] == {"full_names": []}
    assert {r["id"]: r for r in replies}[2]["error"]["code"] == -32601
    assert len(replies) == 2


def test_registered_methods_and_their_errors(stream, outbox):
    stream.register_method("echo", lambda params, message: params)
    stream.register_method("picky", lambda params, message: (_ for _ in ()).throw(JsonRpcException(-32602, "no")))
    stream.register_method("crashy", lambda params, message: 1 / 0)

    stream.on_data(request("echo", {"a": 1}, id=1))
    assert outbox.last == {"jsonrpc": "2.0", "id": 1, "result": {"a": 1}}
    stream.on_data(request("picky", {}, id=2))
    assert outbox.last["error"] == {"code": -32602, "message": "no"}
    stream.on_data(request("crashy", {}, id=3))
    assert outbox.last["error"]["code"] == -32603
    stream.on_data(request("echo", [1], id=4))
    assert outbox.last["result"] == [1]


def test_a_failing_send_for_a_reply_does_not_raise(plugin):
    def broken_send(text):
        raise OSError("socket gone")

    stream = MessageStream(plugin, broken_send)
    stream.on_data(request("request_plugin_info", {}))  # must not raise
    stream.on_close()


# -- requests to the client ------------------------------------------------------------


def test_responses_are_matched_to_requests_across_threads(stream, outbox):
    results = {}

    def ask(name):
        msg = create_request_msg("fetch_module", {"module_name": name})
        results[name] = stream.request_data_sync(msg, timeout=30)

    threads = [threading.Thread(target=ask, args=(n,)) for n in ("rfst_one", "rfst_two", "rfst_three")]
    for thread in threads:
        thread.start()
    for name in ("rfst_one", "rfst_two", "rfst_three"):
        outbox.wait_for(lambda m, name=name: m.get("params", {}).get("module_name") == name)

    for sent in reversed(list(outbox.messages)):  # answer in a different order
        stream.on_data(response_to(sent, result={"echo": sent["params"]["module_name"]}))
    for thread in threads:
        thread.join(10)

    assert {name: r["result"]["echo"] for name, r in results.items()} == {
        "rfst_one": "rfst_one",
        "rfst_two": "rfst_two",
        "rfst_three": "rfst_three",
    }


def test_error_responses_are_returned_to_the_requester(plugin):
    stream_box = []

    def answer(message):
        stream_box[0].on_data(response_to(message, error={"code": -32602, "message": "not found"}))

    stream = MessageStream(plugin, Outbox(on_message=answer))
    stream_box.append(stream)

    response = stream.request_data_sync(create_request_msg("fetch_module", {"module_name": "x"}))

    assert response["error"] == {"code": -32602, "message": "not found"}
    stream.on_close()


def test_request_times_out_with_timeout_error(stream, outbox):
    msg = create_request_msg("fetch_module", {"module_name": "rfst_slow"})

    with pytest.raises(TimeoutError, match="fetch_module"):
        stream.request_data_sync(msg, timeout=0.05)

    stream.on_data(response_to(msg, result=None))  # too late: ignored, no reply
    assert outbox.messages == [msg]


def test_on_close_fails_pending_requests_at_once(stream, outbox):
    outcome = {}

    def ask():
        started = time.monotonic()
        try:
            stream.request_data_sync(create_request_msg("fetch_module", {"module_name": "x"}), timeout=120)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome["error"] = exc
        outcome["waited"] = time.monotonic() - started

    thread = threading.Thread(target=ask)
    thread.start()
    outbox.wait_for(lambda m: m.get("method") == "fetch_module")

    stream.on_close()
    thread.join(10)

    assert not thread.is_alive()
    assert isinstance(outcome["error"], ConnectionError)
    assert outcome["waited"] < 60


def test_requests_after_close_fail_immediately(stream, outbox):
    stream.on_close()

    with pytest.raises(ConnectionError):
        stream.request_data_sync(create_request_msg("fetch_module", {"module_name": "x"}), timeout=120)
    assert outbox.messages == []


def test_on_close_removes_the_finder_and_is_idempotent(stream):
    stream.set_connection_id("conn-1")
    finder = stream.finder

    stream.on_close()
    stream.on_close()

    assert finder not in sys.meta_path
    assert stream.closed


def test_a_failing_send_fails_the_request_as_connection_error(plugin):
    def broken_send(text):
        raise BrokenPipeError("gone")

    stream = MessageStream(plugin, broken_send)
    with pytest.raises(ConnectionError):
        stream.request_data_sync(create_request_msg("fetch_module", {"module_name": "x"}), timeout=120)
    stream.on_close()


# -- end to end: imports through a stream --------------------------------------------------


class ThreadedClient:
    """A client on its own thread answering fetch_module from an in-memory folder."""

    def __init__(self, files, answer=True):
        self.files = files
        self.answer = answer
        self.stream = None
        self.threads = []

    def send(self, text):
        message = json.loads(text)
        if self.answer and message.get("method") == "fetch_module":
            thread = threading.Thread(target=self._reply, args=(message,))
            self.threads.append(thread)
            thread.start()

    def _reply(self, message):
        result = module_index(self.files).get(message["params"]["module_name"])
        self.stream.on_data(response_to(message, result=result).encode())


def test_imports_through_a_stream_answered_from_another_thread(plugin):
    client = ThreadedClient({"rfst_e2e/__init__.py": "from .m import V\n", "rfst_e2e/m.py": "V = 'served'\n"})
    stream = MessageStream(plugin, client.send, connection_id="conn-e2e")
    client.stream = stream
    plugin.set_execution_context("conn-e2e", ["rfst_e2e"])

    module = importlib.import_module("rfst_e2e")

    assert module.V == "served"
    assert module.__file__ == client_path("rfst_e2e/__init__.py")
    stream.on_close()


def test_import_fails_with_import_error_when_the_client_never_answers(plugin):
    client = ThreadedClient({}, answer=False)
    stream = MessageStream(plugin, client.send, connection_id="conn-silent", default_timeout=0.1)
    plugin.set_execution_context("conn-silent", {"rfst_silent"})

    with pytest.raises(ImportError, match="rfst_silent.*timed out") as info:
        importlib.import_module("rfst_silent")

    assert isinstance(info.value.__cause__, TimeoutError)
    stream.on_close()


def test_import_fails_at_once_when_the_connection_closes_mid_import(plugin):
    outbox = Outbox()
    stream = MessageStream(plugin, outbox, connection_id="conn-lost", default_timeout=120)
    plugin.set_execution_context("conn-lost", {"rfst_lost"})
    outcome = {}

    def do_import():
        try:
            importlib.import_module("rfst_lost")
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome["error"] = exc

    thread = threading.Thread(target=do_import)
    thread.start()
    outbox.wait_for(lambda m: m.get("method") == "fetch_module")
    stream.on_close()
    thread.join(10)

    assert not thread.is_alive()
    error = outcome["error"]
    assert type(error) is ImportError
    assert "rfst_lost" in str(error) and "lost the connection" in str(error)
    assert isinstance(error.__cause__, ConnectionError)
