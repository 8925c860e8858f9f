"""``pk.targets()``: every target with the store label it is built from, its unit and definition."""

from __future__ import annotations

import probekit as pk
from probekit.evaluation.targets import BUILTIN_TARGETS, CATALOG, TargetSpec, register_target


def test_targets_name_the_store_labels_they_come_from():
    table = pk.targets()
    by_name = table.set_index("name")
    # run targets whose names differ from their labels say which label they read (issue: `velocity`
    # did not name `velocity_world`)
    assert by_name.loc["velocity", "label"] == "velocity_world" and by_name.loc["velocity", "unit"] == "m/s"
    assert by_name.loc["speed", "label"] == "velocity_world" and "magnitude" in by_name.loc["speed", "definition"]
    assert by_name.loc["contact", "label"] == "contact_interval" and by_name.loc["contact", "kind"] == "binary"
    assert "8 frames" in by_name.loc["future_contact", "definition"]
    for row in table.itertuples():
        assert f"labels/{row.label}" in row.definition
    # targets declared by stores opened earlier in this process are listed too, as not built in
    assert set(BUILTIN_TARGETS) <= set(table.name)
    assert table[table.name.isin(BUILTIN_TARGETS)].builtin.all()


def test_declared_targets_are_listed():
    register_target(TargetSpec("door_open_test_only", "door_open", "binary", level="clip"))
    try:
        table = pk.targets().set_index("name")
    finally:
        CATALOG.pop("door_open_test_only")
    assert not table.loc["door_open_test_only", "builtin"] and "per clip" in table.loc["door_open_test_only", "definition"]
