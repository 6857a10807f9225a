import json

import pytest

from edgenas.errors import TableError, TableMismatchError, TableSchemaError
from edgenas.arch.space import get_space
from edgenas.tables.table import SCHEMA_VERSION, LatencyTable


def test_round_trip_keeps_every_field(tiny_table, tiny_space):
    t = LatencyTable.load(tiny_table, space=tiny_space, backend="onnxruntime")
    again = LatencyTable.from_json(json.loads(json.dumps(t.to_json())))
    assert again.entries == t.entries and again.header == t.header and again.overheads == t.overheads
    assert again.calibration.coef == t.calibration.coef
    assert set(t.header) >= {"schema_version", "edgenas_version", "space", "device", "runtime", "precision",
                             "batch", "protocol"}
    assert t.header["device"]["threads"] == 1 and t.header["runtime"]["runtime"] == "onnxruntime"
    assert t.space().fingerprint == tiny_space.fingerprint


def test_truncated_table_is_refused(tiny_table):
    text = tiny_table.read_text()
    tiny_table.write_text(text[: len(text) // 2])
    with pytest.raises(TableError, match="corrupt or truncated"):
        LatencyTable.load(tiny_table)


def test_corrupt_entry_is_refused(tiny_table):
    d = json.loads(tiny_table.read_text())
    del d["entries"][0]["timing"]
    tiny_table.write_text(json.dumps(d))
    with pytest.raises(TableError, match="corrupt"):
        LatencyTable.load(tiny_table)


def test_foreign_json_is_refused(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"hello": 1}')
    with pytest.raises(TableError, match="not an edgenas latency table"):
        LatencyTable.load(p)


def test_newer_schema_is_refused(tiny_table):
    d = json.loads(tiny_table.read_text())
    d["schema_version"] = SCHEMA_VERSION + 1
    tiny_table.write_text(json.dumps(d))
    with pytest.raises(TableSchemaError, match="upgrade edgenas"):
        LatencyTable.load(tiny_table)


def test_table_of_another_space_or_runtime(tiny_table):
    with pytest.raises(TableMismatchError, match="fbnet-small"):
        LatencyTable.load(tiny_table, space=get_space("fbnet-small"))
    with pytest.raises(TableMismatchError, match="torch"):
        LatencyTable.load(tiny_table, backend="torch")


def test_written_files_get_the_mode_open_would_give(tmp_path):
    import os
    import stat

    from edgenas.fileio import atomic_write_json

    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "shared.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "shared.json").stat().st_mode) == 0o644  # not mkstemp's owner-only 0600


def test_flops_fvcore_could_not_count_are_recorded_and_older_entries_still_load(tiny_table):
    import torch

    from edgenas.arch.analysis import OpCost, analyse

    class Cumsum(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.relu(torch.cumsum(x, 1))

    assert analyse(Cumsum(), (1, 3, 4, 4)).flops_uncounted == ("aten::cumsum",)  # relu: ignored by fvcore
    assert analyse(torch.nn.Conv2d(3, 4, 1), (1, 3, 4, 4)).flops_uncounted == ()
    missed = OpCost(4, 4, 4, 8, 100, ("aten::cumsum",))
    assert OpCost.from_json(missed.to_json()) == missed and "flops_uncounted" not in OpCost(4, 4, 4, 8, 1).to_json()
    d = json.loads(tiny_table.read_text())
    for e in d["entries"]:
        e["cost"].pop("flops_uncounted", None)  # as in tables written before it was recorded
    t = LatencyTable.from_json(d)
    assert all(e.cost.flops_uncounted == () for e in t.entries.values())
