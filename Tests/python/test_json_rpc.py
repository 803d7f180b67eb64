"""JSON-RPC 2.0 message helpers."""

from __future__ import annotations

import pytest

from remote_file_source.json_rpc import (
    INVALID_PARAMS,
    create_error_msg,
    create_notification_msg,
    create_request_msg,
    create_response_msg,
    is_valid_json_rpc_notification,
    is_valid_json_rpc_request,
    is_valid_json_rpc_response,
)


def test_requests_get_unique_string_ids():
    first = create_request_msg("fetch_module", {"module_name": "a"})
    second = create_request_msg("fetch_module", {"module_name": "a"})

    assert first == {"jsonrpc": "2.0", "id": first["id"], "method": "fetch_module", "params": {"module_name": "a"}}
    assert isinstance(first["id"], str) and first["id"] != second["id"]
    assert is_valid_json_rpc_request(first)


def test_explicit_request_id():
    assert create_request_msg("m", {}, id=7)["id"] == 7


def test_response_and_error_messages():
    assert create_response_msg("1", None) == {"jsonrpc": "2.0", "id": "1", "result": None}
    assert create_error_msg(None, INVALID_PARAMS, "bad") == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32602, "message": "bad"},
    }
    assert create_error_msg(3, -32603, "x", data={"k": 1})["error"]["data"] == {"k": 1}
    assert is_valid_json_rpc_response(create_response_msg("1", None))
    assert is_valid_json_rpc_response(create_error_msg(None, -32700, "parse"))


def test_notifications():
    note = create_notification_msg("output", {"stream": "stdout", "text": "hi"})

    assert "id" not in note
    assert is_valid_json_rpc_notification(note)
    assert not is_valid_json_rpc_request(note)


@pytest.mark.parametrize(
    "msg",
    [
        None,
        [],
        {"id": 1, "method": "m"},
        {"jsonrpc": "1.0", "id": 1, "method": "m"},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "id": 1, "method": 5},
        {"jsonrpc": "2.0", "id": True, "method": "m"},
        {"jsonrpc": "2.0", "id": None, "method": "m"},
        {"jsonrpc": "2.0", "id": {"x": 1}, "method": "m"},
        {"jsonrpc": "2.0", "id": 1, "method": "m", "params": "text"},
    ],
)
def test_invalid_requests(msg):
    assert not is_valid_json_rpc_request(msg)


@pytest.mark.parametrize(
    "msg",
    [
        {"jsonrpc": "2.0", "result": 1},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "id": 1, "result": 1, "error": {"code": 1, "message": "m"}},
        {"jsonrpc": "2.0", "id": 1, "error": "not found"},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": "m"}},
        {"jsonrpc": "2.0", "id": 1, "method": "m", "result": 1},
    ],
)
def test_invalid_responses(msg):
    assert not is_valid_json_rpc_response(msg)


def test_the_reference_plugins_message_type_names_are_exported():
    # Code and tests written against the reference import these from ``json_rpc``.
    from remote_file_source.json_rpc import JsonRpcRequest, JsonRpcResponse, JsonRpcSuccess, JsonRpcError

    request: JsonRpcRequest = create_request_msg("fetch_module", {"module_name": "a"})
    assert set(JsonRpcRequest.__annotations__) == {"jsonrpc", "id", "method", "params"}
    assert set(request) == set(JsonRpcRequest.__annotations__)
    assert set(JsonRpcSuccess.__annotations__) == {"jsonrpc", "id", "result"}
    assert set(JsonRpcError.__annotations__) == {"jsonrpc", "id", "error"}
    assert JsonRpcSuccess in JsonRpcResponse.__args__ and JsonRpcError in JsonRpcResponse.__args__
