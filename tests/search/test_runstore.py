import shutil
import sqlite3

import pytest

from edgenas.errors import RunError
from edgenas.search.runstore import EvalRecord, MemoryRunStore, SQLiteRunStore, config_changes, open_store

CONFIG = {"strategy": "nsga2", "pop": 8, "tables": [{"name": "cpu", "digest": "abc"}]}


def rec(arch, err=0.5, gen=1, session=1):
    return EvalRecord(arch, tuple(range(len(arch))), {"error": err, "latency_ms:cpu": 1.25}, gen, session)


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = MemoryRunStore(CONFIG) if request.param == "memory" else SQLiteRunStore.create(tmp_path / "j.sqlite", CONFIG)
    yield s
    s.close()


class TestStoreContract:
    """Every RunStore implementation must pass these."""

    def test_add_lookup_order(self, store):
        store.add([rec("b", 0.25), rec("a", 0.125)])
        store.add([rec("c", 1 / 3)])
        assert [r.arch for r in store.records()] == ["b", "a", "c"]
        assert set(store.lookup(["a", "zz", "c"])) == {"a", "c"}
        assert store.lookup(["c"])["c"].values["error"] == 1 / 3  # exact float round trip
        assert len(store) == 3

    def test_duplicate_refused(self, store):
        store.add([rec("a")])
        with pytest.raises(ValueError):
            store.add([rec("a")])
        assert len(store) == 1

    def test_generations_and_sessions(self, store):
        store.set_generation(2, {"hypervolume": 0.5})
        store.set_generation(1, {"hypervolume": 0.25})
        store.set_generation(2, {"hypervolume": 0.75})
        assert [(g["generation"], g["hypervolume"]) for g in store.generations()] == [(1, 0.25), (2, 0.75)]
        assert store.begin_session() == 1 and store.begin_session() == 2


def test_sqlite_survives_reopen(tmp_path):
    path = tmp_path / "j.sqlite"
    s = SQLiteRunStore.create(path, CONFIG)
    s.add([rec("x", 0.1, gen=3, session=s.begin_session())])
    s.close()
    s = SQLiteRunStore.open(path, CONFIG)
    (r,) = s.records()
    assert (r.arch, r.values["error"], r.generation, r.session) == ("x", 0.1, 3, 1)
    assert s.config_hash and s.config == CONFIG
    s.close()


def test_other_config_refused_naming_the_change(tmp_path):
    path = tmp_path / "j.sqlite"
    SQLiteRunStore.create(path, CONFIG).close()
    before = path.read_bytes()
    with pytest.raises(RunError, match=r"pop: 8 -> 16"):
        SQLiteRunStore.open(path, {**CONFIG, "pop": 16})
    assert path.read_bytes() == before


def test_a_run_moved_with_its_supernet_resumes_but_another_checkpoint_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    config = {**CONFIG, "estimator": {"kind": "supernet", "supernet": "/old/place/supernet", "checkpoint": "d1"}}
    SQLiteRunStore.create(path, config).close()
    moved = {**config, "estimator": {**config["estimator"], "supernet": "/new/place/supernet"}}
    SQLiteRunStore.open(path, moved).close()
    with pytest.raises(RunError, match="estimator.checkpoint"):
        SQLiteRunStore.open(path, {**moved, "estimator": {**moved["estimator"], "checkpoint": "d2"}})


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 10, b"SQLite format 3\x00" + b"\x00" * 50])
def test_corrupt_journal_refused_untouched(tmp_path, content):
    path = tmp_path / "j.sqlite"
    path.write_bytes(content)
    with pytest.raises(RunError, match="corrupt"):
        open_store(path, CONFIG)
    assert path.read_bytes() == content


def test_truncated_journal_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    s = SQLiteRunStore.create(path, CONFIG)
    s.add([rec(f"a{i}") for i in range(500)])
    s.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RunError, match="corrupt"):
        SQLiteRunStore.open(path, CONFIG)


def test_a_killed_runs_corrupt_journal_and_its_wal_are_left_exactly_as_they_were(tmp_path):
    live = tmp_path / "live" / "j.sqlite"
    s = SQLiteRunStore.create(live, CONFIG)
    for i in range(300):  # one transaction each, as a search journals its chunks: a write-ahead log of many frames
        s.add([rec(f"arch{i}" * 20)])
    killed = tmp_path / "killed"  # the files a killed search leaves: the journal, its -wal and -shm
    killed.mkdir()
    for f in live.parent.iterdir():
        shutil.copyfile(f, killed / f.name)
    s.close()
    path = killed / "j.sqlite"
    with open(path, "r+b") as f:  # one page zeroed
        f.seek(2 * 4096)
        f.write(bytes(4096))
    before = {f.name: f.read_bytes() for f in killed.iterdir()}
    assert set(before) == {"j.sqlite", "j.sqlite-wal", "j.sqlite-shm"}
    with pytest.raises(RunError, match="corrupt.*left untouched; move it and its -wal and -shm files away"):
        open_store(path, CONFIG)
    assert {f.name: f.read_bytes() for f in killed.iterdir()} == before


def test_foreign_sqlite_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(RunError, match="not an edgenas run journal"):
        SQLiteRunStore.open(path, CONFIG)


def test_open_store_creates_then_continues_and_refuses_another_config(tmp_path):
    path = tmp_path / "j.sqlite"
    with open_store(path, CONFIG) as s:
        s.add([rec("a")])
    with open_store(path, CONFIG) as s:  # a rerun continues the journal
        assert len(s) == 1
    with pytest.raises(RunError, match="another config"):
        open_store(path, {**CONFIG, "seed": 99})


def test_config_changes_nested():
    assert config_changes({"a": {"b": 1}, "c": 2}, {"a": {"b": 2}, "d": 3}) == \
        ["a.b: 1 -> 2", "c: 2 -> (absent)", "d: (absent) -> 3"]
    # a key a config leaves out for its default reads as that default
    assert config_changes({"s": "x"}, {}, implied={"s": "none"}) == ['s: "x" -> "none"']
