"""The CSV db file: replay, torn writes, corrupt lines, group commit."""

from __future__ import annotations

import threading
import uuid as uuidlib
from pathlib import Path

import pytest

from seatlab.seats.journal import DbFileError, Journal
from seatlab.seats.store import SeatStore

U = [str(uuidlib.UUID(int=i + 1)) for i in range(10)]


def test_file_format_and_replay(tmp_path: Path) -> None:
    path = tmp_path / "db.csv"
    journal, seats = Journal.open(path, 5)
    assert seats == {}
    store = SeatStore(5, journal, seats)
    store.book(U[0])
    store.book(U[1])
    store.cancel(U[0])
    store.book(U[2])
    store.close()
    assert path.read_text() == f"number,uuid\n1,{U[0]}\n2,{U[1]}\n1,\n1,{U[2]}\n"
    _, seats = Journal.open(path, 5)
    assert seats == {1: U[2], 2: U[1]}


def test_written_to_the_os_before_book_returns(tmp_path: Path) -> None:
    path = tmp_path / "db.csv"
    journal, seats = Journal.open(path, 5)
    store = SeatStore(5, journal, seats)
    store.book(U[0])
    # read through a separate descriptor while the journal is still open: no user-space buffering
    assert path.read_text().endswith(f"1,{U[0]}\n")


def test_torn_last_line_is_dropped_and_cut(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "db.csv"
    path.write_text(f"number,uuid\n1,{U[0]}\n2,{U[1][:10]}")
    journal, seats = Journal.open(path, 5)
    assert seats == {1: U[0]}
    assert "torn" in caplog.text and "line 3" in caplog.text
    store = SeatStore(5, journal, seats)
    assert store.book(U[2]) == 2
    store.close()
    assert path.read_text() == f"number,uuid\n1,{U[0]}\n2,{U[2]}\n"


@pytest.mark.parametrize(
    ("body", "lineno", "words"),
    [
        (f"1,{U[0]}\nfoo\n", 3, "not 'number,uuid'"),
        (f"1,{U[0]}\nx,{U[1]}\n", 3, "not 'number,uuid'"),
        (f"1,{U[0]}\n2,not-a-uuid\n", 3, "not a canonical uuid"),
        (f"1,{U[0]}\n1,{U[1]}\n", 3, "already booked"),
        (f"1,{U[0]}\n2,{U[0]}\n", 3, "already booked"),
        (f"6,{U[0]}\n", 2, "outside 1..5"),
        (f"0,{U[0]}\n", 2, "outside 1..5"),
        (f"1,{U[0]},extra\n", 2, "not 'number,uuid'"),
        (f"1_0,{U[0]}\n", 2, "not 'number,uuid'"),
        (f" 3 ,{U[0]}\n", 2, "not 'number,uuid'"),
        (f"-1,{U[0]}\n", 2, "not 'number,uuid'"),
    ],
)
def test_corrupt_lines_name_file_and_line(tmp_path: Path, body: str, lineno: int, words: str) -> None:
    path = tmp_path / "db.csv"
    path.write_text("number,uuid\n" + body)
    with pytest.raises(DbFileError) as err:
        Journal.open(path, 5)
    assert str(path) in str(err.value)
    assert f"line {lineno}" in str(err.value)
    assert words in str(err.value)


def test_wrong_header(tmp_path: Path) -> None:
    path = tmp_path / "db.csv"
    path.write_text("seat,owner\n")
    with pytest.raises(DbFileError, match="line 1"):
        Journal.open(path, 5)


def test_unusable_path(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DbFileError, match=r"dir\.csv"):
        Journal.open(tmp_path / "dir.csv", 5)


def test_group_commit_shares_fsyncs(tmp_path: Path) -> None:
    journal, seats = Journal.open(tmp_path / "db.csv", 1000, sync="fsync")
    store = SeatStore(1000, journal, seats)
    barrier = threading.Barrier(16)

    def client(k: int) -> None:
        barrier.wait()
        for i in range(20):
            store.book(str(uuidlib.UUID(int=k * 1000 + i + 1)))
            store.commit()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.stats() == (1000, 320)
    assert journal._durable == journal._written == 320
    # 320 commits; concurrent callers share one fsync, so there are fewer fsyncs than commits
    assert 1 <= journal.fsyncs < 320


def test_commit_is_a_noop_with_sync_os(tmp_path: Path) -> None:
    journal, seats = Journal.open(tmp_path / "db.csv", 5, sync="os")
    store = SeatStore(5, journal, seats)
    store.book(U[0])
    store.commit()
    assert journal.fsyncs == 0
