"""Real wheels from PyPI served through the tree: requests (with certifi's CA bundle read through
importlib.resources) and tzdata (zone files that are package data), none of it read from the
folder the fake client lists."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import os
import shutil
import sys
import zoneinfo
from pathlib import Path
from datetime import datetime, timedelta

import pytest

from remote_file_source import tree
from tree_fakes import FakeTreeClient

NAMES = {"certifi", "requests", "charset_normalizer", "idna", "urllib3", "tzdata"}
#: The pinned PyPI packages scripts/test installs (scripts/pypi-packages.txt, ensure_pypi_packages).
PYPI_PACKAGES = Path(__file__).resolve().parents[2] / ".build" / "pypi-packages"


@pytest.fixture(scope="session")
def unpacked_wheels(tmp_path_factory):
    """Those packages and their .dist-info folders, copied into one folder: a client's ``--source``."""
    if not (PYPI_PACKAGES / ".stamp").is_file():
        pytest.fail(f"{PYPI_PACKAGES} is missing: run scripts/test, which installs scripts/pypi-packages.txt there")
    site = tmp_path_factory.mktemp("client") / "site"
    versions = {}
    for item in sorted(PYPI_PACKAGES.iterdir()):
        if item.name in NAMES:
            shutil.copytree(item, site / item.name)
        elif item.name.endswith(".dist-info"):
            name, version = item.name[: -len(".dist-info")].split("-")
            if name.lower() in NAMES:
                shutil.copytree(item, site / item.name)
                versions[name.lower().replace("_", "-")] = version
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
