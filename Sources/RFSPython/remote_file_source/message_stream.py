"""One client session on the worker, independent of the transport.

``MessageStream`` plays the role of the reference plugin's MessageStream
without Deephaven's plugin API: the transport hands it incoming text with
``on_data`` and tells it about the end of the connection with ``on_close``;
it sends through the ``send(text)`` callable it was built with.

What it does:

* answers ``request_plugin_info`` and ``set_connection_id`` (plus any method
  registered with ``register_method``);
* after ``set_connection_id`` it installs its own ``RemoteMetaPathFinder`` at
  the front of ``sys.meta_path``, replacing the previous one;
* ``request_data_sync`` sends a request and blocks the calling thread on a
  ``threading.Event`` until ``on_data`` delivers the response with the same
  id, the timeout passes (TimeoutError), or ``on_close`` is called
  (ConnectionError, at once, for every pending request).

Unlike the reference it never closes or gives up on the session because of a
bad message: unreadable JSON and invalid requests get a JSON-RPC error reply
and the stream carries on. It also does not use asyncio, so it works from any
thread, including threads that already run an event loop.

Threading: ``request_data_sync`` must not be called on the thread that
delivers ``on_data`` (that thread would wait for itself until the timeout).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any, Callable, Optional, Union

from .json_rpc import (
    DEFAULT_REQUEST_TIMEOUT,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    JsonRpcException,
    create_error_msg,
    create_response_msg,
    is_valid_id,
    is_valid_json_rpc_notification,
    is_valid_json_rpc_request,
)
from .module_loader import RemoteMetaPathFinder
from .plugin_object import PluginObject

__all__ = ["MessageStream", "DEFAULT_REQUEST_TIMEOUT"]

logger = logging.getLogger(__name__)


Handler = Callable[[Any, dict], Any]


class _PendingRequest:
    """A request waiting for its response (or for the stream to close)."""

    __slots__ = ("event", "response", "error")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.response: Optional[dict] = None
        self.error: Optional[BaseException] = None


def _preview(text: Any, limit: int = 200) -> str:
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= limit else text[:limit] + "..."


class MessageStream:
    """A JSON-RPC peer for one client connection.

    Args:
        plugin: the worker's shared ``PluginObject``.
        send: called with one JSON text per outgoing message; must be safe to
            call from any thread. Exceptions from it fail the request being
            sent (as ConnectionError) or are logged for replies.
        connection_id: when given, the stream identifies as this connection
            right away (as if the client had sent ``set_connection_id``).
        default_timeout: seconds ``request_data_sync`` waits when called
            without a timeout; None waits until a response or ``on_close``.
        finder_timeout: timeout the installed finder passes for each
            ``fetch_module``; None uses ``default_timeout``.
    """

    def __init__(
        self,
        plugin: PluginObject,
        send: Callable[[str], Any],
        *,
        connection_id: Optional[str] = None,
        default_timeout: Optional[float] = DEFAULT_REQUEST_TIMEOUT,
        finder_timeout: Optional[float] = None,
    ) -> None:
        self._plugin = plugin
        self._send = send
        self.default_timeout = default_timeout
        self.finder_timeout = finder_timeout
        self.id: Optional[str] = None
        self._lock = threading.Lock()
        self._pending: dict[Any, _PendingRequest] = {}
        self._closed = False
        self._finder: Optional[RemoteMetaPathFinder] = None
        self._handlers: dict[str, Handler] = {
            "request_plugin_info": self._handle_request_plugin_info,
            "set_connection_id": self._handle_set_connection_id,
        }
        if connection_id is not None:
            self.set_connection_id(connection_id)

    # -- properties ----------------------------------------------------------

    @property
    def plugin(self) -> PluginObject:
        return self._plugin

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    @property
    def finder(self) -> Optional[RemoteMetaPathFinder]:
        """The finder this stream installed in ``sys.meta_path``, if any."""
        return self._finder

    # -- configuration -------------------------------------------------------

    def register_method(self, method: str, handler: Handler) -> None:
        """Serve ``method``: ``handler(params, message)`` returns the result.

        The handler runs on the thread that called ``on_data``. It may raise
        ``JsonRpcException`` to answer with a specific error; any other
        exception is answered with -32603 (internal error).
        """
        self._handlers[method] = handler

    def set_connection_id(self, connection_id: str) -> None:
        """Identify this stream as ``connection_id`` and (re)install its finder."""
        self.id = connection_id
        self._deregister_meta_path_finder()
        self._register_meta_path_finder()
        logger.info("connection id set to %r", connection_id)

    def _register_meta_path_finder(self) -> None:
        finder = RemoteMetaPathFinder(
            self,
            self._plugin,
            timeout=self.finder_timeout if self.finder_timeout is not None else self.default_timeout,
        )
        self._finder = finder
        # In front of the path-based finders: a remote module overrides a
        # local one of the same name, as the execution context asks.
        sys.meta_path.insert(0, finder)

    def _deregister_meta_path_finder(self) -> None:
        finder, self._finder = self._finder, None
        if finder is None:
            return
        # Remove by identity; someone may have replaced sys.meta_path meanwhile.
        for index, entry in enumerate(sys.meta_path):
            if entry is finder:
                del sys.meta_path[index]
                break

    # -- sending ---------------------------------------------------------------

    def send_message(self, message: Union[dict, list, str]) -> None:
        """Send a message (a dict or list is serialized as JSON)."""
        text = message if isinstance(message, str) else json.dumps(message)
        self._send(text)

    def _reply(self, message: Union[dict, list]) -> None:
        try:
            self.send_message(message)
        except Exception:
            logger.exception("could not send reply %s", _preview(message))

    def request_data_sync(self, request: dict, timeout: Optional[float] = None) -> dict:
        """Send ``request`` and block until its response arrives.

        Returns the JSON-RPC response dict as received (success or error).
        Raises TimeoutError when nothing arrives within ``timeout`` seconds
        (``default_timeout`` when None), ConnectionError when the stream is or
        becomes closed, or when sending fails.
        """
        if not isinstance(request, dict) or not is_valid_id(request.get("id")):
            raise ValueError("request must be a JSON-RPC request dict with a string or number id")
        request_id = request["id"]
        method = request.get("method")
        wait = self.default_timeout if timeout is None else timeout

        pending = _PendingRequest()
        with self._lock:
            if self._closed:
                raise ConnectionError(f"cannot send {method!r}: the connection is closed")
            if request_id in self._pending:
                raise ValueError(f"a request with id {request_id!r} is already pending")
            self._pending[request_id] = pending

        try:
            self.send_message(request)
        except Exception as exc:
            with self._lock:
                self._pending.pop(request_id, None)
            raise ConnectionError(f"cannot send {method!r}: {exc}") from exc

        if not pending.event.wait(wait):
            with self._lock:
                self._pending.pop(request_id, None)
            # The response may have been delivered between the wait and the lock.
            if not pending.event.is_set():
                raise TimeoutError(
                    f"no response to {method!r} (id {request_id!r}) within {wait:g} s"
                )
        if pending.error is not None:
            raise pending.error
        assert pending.response is not None
        return pending.response

    # -- receiving ---------------------------------------------------------------

    def on_data(self, payload: Union[str, bytes, bytearray, memoryview], references: Any = None) -> None:
        """Handle one incoming text message (a JSON-RPC message or a batch).

        ``references`` is accepted for compatibility with the reference's
        signature and ignored. Never raises because of the message's content.
        """
        if self.closed:
            logger.warning("message after close ignored: %s", _preview(payload))
            return
        if isinstance(payload, (bytes, bytearray, memoryview)):
            try:
                payload = bytes(payload).decode("utf-8")
            except UnicodeDecodeError as exc:
                self._reply(create_error_msg(None, PARSE_ERROR, f"Parse error: invalid UTF-8 ({exc})"))
                return
        try:
            message = json.loads(payload)
        except (ValueError, TypeError) as exc:
            logger.warning("unparsable message: %s", _preview(payload))
            self._reply(create_error_msg(None, PARSE_ERROR, f"Parse error: {exc}"))
            return

        if isinstance(message, list):
            if not message:
                self._reply(create_error_msg(None, INVALID_REQUEST, "Invalid Request: empty batch"))
                return
            replies = [r for r in (self._handle_message(m) for m in message) if r is not None]
            if replies:
                self._reply(replies)
            return

        reply = self._handle_message(message)
        if reply is not None:
            self._reply(reply)

    def _handle_message(self, message: Any) -> Optional[dict]:
        """Handle one message; return the reply to send, if any."""
        if isinstance(message, dict) and "method" not in message and (
            "result" in message or "error" in message
        ):
            self._handle_response(message)
            return None  # responses are never answered
        if is_valid_json_rpc_request(message) or is_valid_json_rpc_notification(message):
            return self._dispatch(message)
        request_id = message.get("id") if isinstance(message, dict) else None
        logger.warning("invalid JSON-RPC message: %s", _preview(message))
        return create_error_msg(
            request_id if is_valid_id(request_id) else None,
            INVALID_REQUEST,
            "Invalid Request",
        )

    def _handle_response(self, message: dict) -> None:
        response_id = message.get("id")
        if not is_valid_id(response_id):
            # e.g. the client's error reply to something it could not parse
            logger.warning("response without usable id: %s", _preview(message))
            return
        with self._lock:
            pending = self._pending.pop(response_id, None)
        if pending is None:
            logger.warning("response to no pending request (id %r), ignored", response_id)
            return
        pending.response = message
        pending.event.set()

    def _dispatch(self, message: dict) -> Optional[dict]:
        is_request = "id" in message
        method = message["method"]
        handler = self._handlers.get(method)
        if handler is None:
            if not is_request:
                logger.debug("unknown notification %r ignored", method)
                return None
            return create_error_msg(message["id"], METHOD_NOT_FOUND, f"Method not found: {method}")
        try:
            result = handler(message.get("params"), message)
        except JsonRpcException as exc:
            if not is_request:
                logger.warning("notification %r failed: %s", method, exc.message)
                return None
            return create_error_msg(message["id"], exc.code, exc.message, exc.data)
        except Exception as exc:
            logger.exception("handler for %r failed", method)
            if not is_request:
                return None
            return create_error_msg(message["id"], INTERNAL_ERROR, f"Internal error: {exc}")
        if not is_request:
            return None
        return create_response_msg(message["id"], result)

    # -- built-in methods ----------------------------------------------------------

    def _handle_request_plugin_info(self, params: Any, message: dict) -> dict:
        return {"full_names": sorted(self._plugin.get_top_level_module_fullnames())}

    def _handle_set_connection_id(self, params: Any, message: dict) -> None:
        # params.id when present; otherwise the request's own id (what the
        # reference's VS Code client relies on).
        connection_id = params.get("id") if isinstance(params, dict) else None
        if connection_id is None:
            connection_id = message.get("id")
        if not is_valid_id(connection_id):
            raise JsonRpcException(INVALID_PARAMS, "set_connection_id needs params.id or a request id")
        self.set_connection_id(str(connection_id))
        return None

    # -- closing ---------------------------------------------------------------------

    def on_close(self) -> None:
        """The connection is gone: fail every pending request now and remove the finder.

        Idempotent. The plugin's execution context is left alone (as in the
        reference); with the finder gone, nothing will ask this client again.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = list(self._pending.items())
            self._pending.clear()
        for request_id, entry in pending:
            entry.error = ConnectionError(
                f"connection {self.id!r} closed before a response to request {request_id!r}"
            )
            entry.event.set()
        self._deregister_meta_path_finder()
        logger.info("connection %r closed (%d pending requests failed)", self.id, len(pending))

    def __repr__(self) -> str:
        return f"<MessageStream id={self.id!r} closed={self.closed}>"
