"""Fixtures that keep tests independent: every test gets a clean import system."""

from __future__ import annotations

import importlib
import linecache
import sys

import pytest

from rfs_fakes import CLIENT_ROOT, PREFIX, FakeConnection
from remote_file_source import PluginObject, RemoteMetaPathFinder


def _drop_test_modules() -> None:
    for name in list(sys.modules):
        if name.startswith(PREFIX):
            del sys.modules[name]


@pytest.fixture(autouse=True)
def clean_import_state():
    """Restore sys.meta_path, sys.path and the caches a test may have touched."""
    saved_meta_path = list(sys.meta_path)
    saved_path = list(sys.path)
    _drop_test_modules()
    yield
    sys.meta_path[:] = saved_meta_path
    sys.path[:] = saved_path
    _drop_test_modules()
    for filename in [f for f in linecache.cache if f.startswith(CLIENT_ROOT)]:
        del linecache.cache[filename]
    importlib.invalidate_caches()


@pytest.fixture
def plugin() -> PluginObject:
    return PluginObject()


@pytest.fixture
def install_finder(plugin):
    """Put a finder for a connection in front of sys.meta_path; returns it."""

    def install(connection: FakeConnection, **kwargs) -> RemoteMetaPathFinder:
        finder = RemoteMetaPathFinder(connection, plugin, **kwargs)
        sys.meta_path.insert(0, finder)
        return finder

    return install
