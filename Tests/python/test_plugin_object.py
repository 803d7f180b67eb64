"""PluginObject: the execution context and module-cache eviction (DESIGN §3)."""

from __future__ import annotations

import sys
import types

import pytest

from remote_file_source import PluginObject


def put_modules(*names: str) -> None:
    for name in names:
        sys.modules[name] = types.ModuleType(name)


def test_a_new_plugin_has_an_empty_context():
    plugin = PluginObject()

    assert plugin.execution_context_connection_id is None
    assert plugin.get_top_level_module_fullnames() == set()
    assert not plugin.is_sourced_by_plugin("anything")


def test_state_belongs_to_each_instance():
    first, second = PluginObject(), PluginObject()

    first.set_execution_context("conn-1", {"rfst_one"})

    assert second.execution_context_connection_id is None
    assert second.get_top_level_module_fullnames() == set()
    assert first.get_top_level_module_fullnames() == {"rfst_one"}


@pytest.mark.parametrize(
    "names, expected",
    [
        ({"rfst_a", "rfst_b"}, {"rfst_a", "rfst_b"}),
        (frozenset({"rfst_a"}), {"rfst_a"}),
        ({"rfst_a": "value", "rfst_b": None}, {"rfst_a", "rfst_b"}),
        (["rfst_a", "rfst_b", "rfst_a"], {"rfst_a", "rfst_b"}),
        (("rfst_a",), {"rfst_a"}),
        (None, set()),
        (set(), set()),
    ],
)
def test_set_execution_context_accepts_collections_of_names(plugin, names, expected):
    plugin.set_execution_context("conn-1", names)

    assert plugin.execution_context_connection_id == "conn-1"
    assert plugin.get_top_level_module_fullnames() == expected


@pytest.mark.parametrize("bad", ["rfst_a", b"rfst_a", 42, {1, 2}])
def test_set_execution_context_rejects_what_is_not_a_collection_of_names(plugin, bad):
    plugin.set_execution_context("conn-1", {"rfst_kept"})

    with pytest.raises(TypeError):
        plugin.set_execution_context("conn-2", bad)

    assert plugin.execution_context_connection_id == "conn-1"
    assert plugin.get_top_level_module_fullnames() == {"rfst_kept"}


def test_returned_names_are_a_copy(plugin):
    plugin.set_execution_context("conn-1", {"rfst_a"})

    plugin.get_top_level_module_fullnames().add("rfst_intruder")

    assert plugin.get_top_level_module_fullnames() == {"rfst_a"}


def test_is_sourced_by_plugin_matches_names_and_submodules(plugin):
    plugin.set_execution_context("conn-1", {"rfst_foo", "rfst_pkg.sub"})

    assert plugin.is_sourced_by_plugin("rfst_foo")
    assert plugin.is_sourced_by_plugin("rfst_foo.bar.baz")
    assert plugin.is_sourced_by_plugin("rfst_pkg.sub")
    assert plugin.is_sourced_by_plugin("rfst_pkg.sub.x")
    assert not plugin.is_sourced_by_plugin("rfst_foobar")
    assert not plugin.is_sourced_by_plugin("rfst_fo")
    assert not plugin.is_sourced_by_plugin("rfst_pkg")
    assert not plugin.is_sourced_by_plugin("rfst_pkg.subway")


def test_is_sourced_by_plugin_checks_the_connection_id_only_when_given(plugin):
    plugin.set_execution_context("conn-1", {"rfst_foo"})

    assert plugin.is_sourced_by_plugin("rfst_foo", "conn-1")
    assert not plugin.is_sourced_by_plugin("rfst_foo", "conn-2")
    assert plugin.is_sourced_by_plugin("rfst_foo", None)


def test_is_sourced_by_execution_context_requires_a_matching_id(plugin):
    plugin.set_execution_context("conn-1", {"rfst_foo"})

    assert plugin.is_sourced_by_execution_context("rfst_foo.x", "conn-1")
    assert not plugin.is_sourced_by_execution_context("rfst_foo", "conn-2")
    assert not plugin.is_sourced_by_execution_context("rfst_foo", None)
    assert not plugin.is_sourced_by_execution_context("rfst_other", "conn-1")

    plugin.set_execution_context(None, {"rfst_foo"})
    assert not plugin.is_sourced_by_execution_context("rfst_foo", None)


def test_setting_the_context_evicts_old_and_new_names_with_submodules(plugin):
    put_modules("rfst_old", "rfst_old.sub", "rfst_old.sub.deep")
    plugin.set_execution_context("conn-1", {"rfst_old"})
    put_modules("rfst_old", "rfst_old.sub", "rfst_old.sub.deep")  # imported during the run
    put_modules("rfst_new", "rfst_new.x.y", "rfst_newer", "rfst_unrelated")  # e.g. local copies

    plugin.set_execution_context("conn-2", {"rfst_new"})

    for gone in ("rfst_old", "rfst_old.sub", "rfst_old.sub.deep", "rfst_new", "rfst_new.x.y"):
        assert gone not in sys.modules, gone
    assert "rfst_newer" in sys.modules
    assert "rfst_unrelated" in sys.modules


def test_evict_module_cache_with_names(plugin):
    put_modules("rfst_x", "rfst_x.a", "rfst_xy", "rfst_z")

    evicted = plugin.evict_module_cache({"rfst_x"})

    assert evicted == ["rfst_x", "rfst_x.a"]
    assert "rfst_xy" in sys.modules and "rfst_z" in sys.modules


def test_evict_module_cache_defaults_to_the_current_context(plugin):
    plugin.set_execution_context("conn-1", {"rfst_ctx"})
    put_modules("rfst_ctx", "rfst_ctx.child", "rfst_ctxother")

    evicted = plugin.evict_module_cache()

    assert evicted == ["rfst_ctx", "rfst_ctx.child"]
    assert "rfst_ctxother" in sys.modules


def test_clearing_the_context_leaves_nothing_sourced(plugin):
    plugin.set_execution_context("conn-1", {"rfst_foo"})
    plugin.set_execution_context(None, None)

    assert not plugin.is_sourced_by_plugin("rfst_foo")
    assert plugin.execution_context_connection_id is None


def test_reference_style_direct_state_reset_still_works(plugin):
    # The reference's tests reset these private attributes directly.
    plugin.set_execution_context("conn-1", {"rfst_foo"})
    plugin._execution_context_connection_id = None
    plugin._top_level_module_fullnames = set()

    assert not plugin.is_sourced_by_plugin("rfst_foo")
    assert plugin.get_top_level_module_fullnames() == set()
