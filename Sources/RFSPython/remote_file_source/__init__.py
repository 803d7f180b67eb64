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

from .json_rpc import JsonRpcException
from .message_stream import DEFAULT_REQUEST_TIMEOUT, MessageStream
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

# A library never configures logging; the embedding application does.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())
