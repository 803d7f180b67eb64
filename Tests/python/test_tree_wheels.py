"""Real wheels from PyPI served through the tree: requests (with certifi's CA bundle read through
importlib.resources) and tzdata (zone files that are package data), none of it read from the
folder the fake client lists."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import os
import subprocess
import sys
import zipfile
import zoneinfo
from datetime import datetime, timedelta

import pytest

from remote_file_source import tree
from tree_fakes import FakeTreeClient

WHEELS = ["certifi", "requests", "charset-normalizer", "idna", "urllib3", "tzdata"]
NAMES = {"certifi", "requests", "charset_normalizer", "idna", "urllib3", "tzdata"}


@pytest.fixture(scope="session")
def unpacked_wheels(tmp_path_factory):
    """The wheels unpacked into one folder, as a client's ``--source`` site folder."""
    download = tmp_path_factory.mktemp("wheels")
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
               "-d", str(download), *WHEELS]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"downloading wheels from PyPI failed (network needed):\n{done.stderr}")
    site = tmp_path_factory.mktemp("client") / "site"
    versions = {}
    for wheel in sorted(download.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        versions[name.lower().replace("_", "-")] = version
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
    return site, versions


@pytest.fixture
def served(unpacked_wheels, tmp_path, plugin):
    site, versions = unpacked_wheels
    client = FakeTreeClient([(str(site), "source")], prefetch=True)
    hidden = site.parent / "moved-away"
    site.rename(hidden)  # the worker side cannot read the client's folder
    saved_hooks = list(sys.path_hooks)
    try:
        tree.set_run_tree(client, plugin, client.tree_json(tmp_path / "run", tmp_path / "store", 1 << 20))
        plugin.set_execution_context(client.id, NAMES)
        yield client, str(site), tmp_path / "run" / "0", versions
    finally:
        tree.set_run_tree(None, plugin, None)
        plugin.evict_module_cache(NAMES)
        sys.path_hooks[:] = saved_hooks
        hidden.rename(site)


def test_requests_and_its_ca_bundle_come_from_the_tree(served):
    client, site, tree_dir, versions = served
    import requests
    import requests.certs

    assert requests.__file__ == str(tree_dir / "requests" / "__init__.py")
    assert requests.get.__code__.co_filename == site + "/requests/api.py"
    bundle = requests.certs.where()
    assert bundle.startswith(str(tree_dir)) and os.path.getsize(bundle) > 100_000
    assert importlib.metadata.version("requests") == versions["requests"]
    assert client.requests, "the tree was used"


def test_tzdata_zone_files_are_package_data_of_the_tree(served):
    client, site, tree_dir, versions = served
    import tzdata

    assert tzdata.__file__ == str(tree_dir / "tzdata" / "__init__.py")
    paris = importlib.resources.files("tzdata.zoneinfo.Europe").joinpath("Paris").read_bytes()
    assert paris.startswith(b"TZif")
    zoneinfo.reset_tzpath(to=[])  # only the tzdata package: no system zone files
    try:
        zone = zoneinfo.ZoneInfo.no_cache("Europe/Paris")
        assert zone.utcoffset(datetime(2024, 7, 1)) == timedelta(hours=2)
    finally:
        zoneinfo.reset_tzpath()
