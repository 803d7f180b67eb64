"""Small helpers to build and check JSON-RPC 2.0 messages.

The names of the public functions match the reference plugin
(``create_request_msg``, ``create_response_msg``, ``is_valid_json_rpc_request``,
``is_valid_json_rpc_response``) so code written against it keeps working; the
checks here are stricter, because a message that passes them is trusted by the
rest of the package (e.g. ids are used as dictionary keys, error codes are
compared as integers).
"""

from __future__ import annotations

import os
from typing import Any, Literal, Optional, TypedDict, Union

__all__ = [
    "JsonRpcRequest",
    "JsonRpcSuccess",
    "JsonRpcErrorObject",
    "JsonRpcError",
    "JsonRpcResponse",
    "PARSE_ERROR",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "INVALID_PARAMS",
    "INTERNAL_ERROR",
    "REQUEST_CANCELLED",
    "JsonRpcException",
    "create_request_msg",
    "create_notification_msg",
    "create_response_msg",
    "create_error_msg",
    "is_valid_id",
    "is_valid_json_rpc_request",
    "is_valid_json_rpc_notification",
    "is_valid_json_rpc_response",
    "is_error_response",
]

# The message shapes as typed dictionaries, under the reference plugin's names (its
# ``types.py``), so code and tests written against it (``connection.request_data_sync(request:
# JsonRpcRequest) -> JsonRpcResponse``) keep working. Messages stay plain dicts.


class JsonRpcRequest(TypedDict):
    jsonrpc: Literal["2.0"]
    id: str
    method: str
    params: Union[dict, list]


class JsonRpcSuccess(TypedDict):
    jsonrpc: Literal["2.0"]
    id: str
    result: Any


class JsonRpcErrorObject(TypedDict):
    code: int
    message: str
    data: Optional[Any]


class JsonRpcError(TypedDict):
    jsonrpc: Literal["2.0"]
    id: str
    error: JsonRpcErrorObject


JsonRpcResponse = Union[JsonRpcSuccess, JsonRpcError]

JSONRPC_VERSION = "2.0"

# Standard error codes (plus -32800, the LSP code the protocol uses for a cancelled request).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_CANCELLED = -32800
# fetch_module: the module exists on the client but its source cannot be served (undecodable,
# over the client's --max-file-size, unreadable); the message names the file and says why.
SOURCE_UNAVAILABLE = -32010


class JsonRpcException(Exception):
    """Raised by a method handler to answer with a specific JSON-RPC error.

    Anything else a handler raises becomes ``INTERNAL_ERROR``; this exception
    lets a handler say "invalid params" (and so on) precisely.
    """

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def is_valid_id(value: Any) -> bool:
    """True for a usable request id: a string or a number (never a bool).

    ``bool`` is excluded explicitly because it is an ``int`` subclass in
    Python but not a JSON number.
    """
    if isinstance(value, bool):
        return False
    return isinstance(value, (str, int, float))


#: Seconds ``request_data_sync`` waits when no timeout is given. Generous,
#: because a cold client may need to read files, but finite: an import must
#: never hang on a client that stopped answering.
DEFAULT_REQUEST_TIMEOUT = 30.0


def _uuid4() -> str:
    """A random (version 4) UUID string, as ``str(uuid.uuid4())`` gives, without importing
    ``uuid`` (which imports ``platform``): the run host imports this module at start-up."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def create_request_msg(
    method: str, params: Any = None, *, id: Optional[Any] = None
) -> dict:
    """Build a request with a fresh unique id (a UUID string) unless one is given.

    UUIDs make ids unique across threads and across streams without a shared
    counter, which matters because replies are matched by id alone.
    """
    msg: dict[str, Any] = {
        "jsonrpc": JSONRPC_VERSION,
        "id": _uuid4() if id is None else id,
        "method": method,
    }
    if params is not None:
        msg["params"] = params
    return msg


def create_notification_msg(method: str, params: Any = None) -> dict:
    """Build a notification (a request without an id, which gets no reply)."""
    msg: dict[str, Any] = {"jsonrpc": JSONRPC_VERSION, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def create_response_msg(id: Any, result: Any) -> dict:
    """Build a success response for the request with this id."""
    return {"jsonrpc": JSONRPC_VERSION, "id": id, "result": result}


def create_error_msg(id: Any, code: int, message: str, data: Any = None) -> dict:
    """Build an error response; ``id`` is None when the request's id is unknown."""
    error: dict[str, Any] = {"code": int(code), "message": str(message)}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": JSONRPC_VERSION, "id": id, "error": error}


def _has_valid_params(msg: dict) -> bool:
    return "params" not in msg or isinstance(msg["params"], (dict, list))


def is_valid_json_rpc_request(msg: Any) -> bool:
    """True for a request that expects a reply (it has a string or number id)."""
    return (
        isinstance(msg, dict)
        and msg.get("jsonrpc") == JSONRPC_VERSION
        and isinstance(msg.get("method"), str)
        and "id" in msg
        and is_valid_id(msg["id"])
        and _has_valid_params(msg)
    )


def is_valid_json_rpc_notification(msg: Any) -> bool:
    """True for a notification: a request without an ``id`` member."""
    return (
        isinstance(msg, dict)
        and msg.get("jsonrpc") == JSONRPC_VERSION
        and isinstance(msg.get("method"), str)
        and "id" not in msg
        and _has_valid_params(msg)
    )


def _is_valid_error_object(error: Any) -> bool:
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), int)
        and not isinstance(error.get("code"), bool)
        and isinstance(error.get("message"), str)
    )


def is_valid_json_rpc_response(msg: Any) -> bool:
    """True for a response: an id (null allowed, for errors about unreadable
    requests) and exactly one of ``result`` or a well-formed ``error``."""
    if not (
        isinstance(msg, dict)
        and msg.get("jsonrpc") == JSONRPC_VERSION
        and "method" not in msg
        and "id" in msg
        and (msg["id"] is None or is_valid_id(msg["id"]))
    ):
        return False
    has_result = "result" in msg
    has_error = "error" in msg
    if has_result == has_error:
        return False
    return has_result or _is_valid_error_object(msg["error"])


def is_error_response(msg: Any) -> bool:
    """True when a response carries an ``error`` member."""
    return isinstance(msg, dict) and "error" in msg
