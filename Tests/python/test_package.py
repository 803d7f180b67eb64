"""The package imports in a plain Python: stdlib only, no Swift bridge module."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import remote_file_source

PROBE = r"""
import json, sys
before = set(sys.modules)
import remote_file_source
after = set(sys.modules) - before
third_party = sorted(
    name for name in after
    if name.split(".")[0] not in sys.stdlib_module_names
    and name.split(".")[0] != "remote_file_source"
)
print(json.dumps({"bridge": "_rfs_bridge" in sys.modules, "third_party": third_party,
                  "version": remote_file_source.__version__}))
"""


def test_imports_cleanly_in_a_fresh_interpreter_with_stdlib_only():
    package_root = os.path.dirname(os.path.dirname(remote_file_source.__file__))
    env = dict(os.environ, PYTHONPATH=package_root)

    completed = subprocess.run(
        [sys.executable, "-S", "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["bridge"] is False
    assert report["third_party"] == []
    assert report["version"] == remote_file_source.__version__


def test_public_names():
    for name in ("PluginObject", "RemoteMetaPathFinder", "RemoteModuleLoader", "MessageStream"):
        assert name in remote_file_source.__all__
        assert getattr(remote_file_source, name).__name__ == name
    assert isinstance(remote_file_source.__version__, str)
