"""Python side of RemoteFileSource: import modules whose source lives on a client.

The Swift worker embeds CPython and uses this package to:

* keep the execution context (``PluginObject``),
* find and load modules through a ``sys.meta_path`` finder that asks a client
  for them (``RemoteMetaPathFinder``, ``RemoteModuleLoader``),
* speak JSON-RPC 2.0 with one client per session (``MessageStream``).

The package is stdlib-only and does not need the worker's builtin bridge
module, so its unit tests run in a plain Python 3.11.
"""

import logging as _logging

from .json_rpc import DEFAULT_REQUEST_TIMEOUT, JsonRpcException
from .module_loader import RemoteMetaPathFinder, RemoteModuleLoader
from .plugin_object import PluginObject

__version__ = "0.1.0"

__all__ = [
    "PluginObject",
    "RemoteMetaPathFinder",
    "RemoteModuleLoader",
    "MessageStream",
    "JsonRpcException",
    "DEFAULT_REQUEST_TIMEOUT",
    "__version__",
]



def __getattr__(name):
    # ``MessageStream`` is the reference's transport, which the worker does not use: it is
    # imported on first use, so a run host (which imports this package at start-up) does not
    # pay for it (PEP 562).
    if name == "MessageStream":
        from .message_stream import MessageStream

        return MessageStream
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# A library never configures logging; the embedding application does.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())
