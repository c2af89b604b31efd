"""The per-process parsed-file cache: bounded by bytes, keyed by file identity, never shared with a fork."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from emgaug.data.filecache import ParsedFileCache, stat_key
from emgaug.errors import EmgaugError


def test_evicts_least_recently_used_beyond_the_byte_budget():
    cache = ParsedFileCache(max_bytes=3 * 800)
    for i in range(3):
        cache.put(("f", i, 0), np.zeros(100))  # 800 bytes each
    cache.get(("f", 0, 0))  # touch the oldest
    cache.put(("f", 3, 0), (np.zeros(50), np.zeros(50)))  # a tuple of arrays counts all its bytes
    assert cache.get(("f", 1, 0)) is None  # the least recently used went
    assert all(cache.get(("f", i, 0)) is not None for i in (0, 2, 3))
    big = ParsedFileCache(max_bytes=10)
    big.put(("g", 0, 0), np.zeros(100))
    assert big.get(("g", 0, 0)) is not None  # the newest entry is kept even over budget


def test_a_rewritten_file_gets_a_new_key_and_a_missing_one_a_clear_error(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("1")
    k1 = stat_key(str(p))
    time.sleep(0.01)
    p.write_text("12")
    assert stat_key(str(p)) != k1
    with pytest.raises(EmgaugError, match="absent.txt: cannot open"):
        stat_key(str(tmp_path / "absent.txt"))


def test_a_forked_child_starts_empty():
    cache = ParsedFileCache(max_bytes=1 << 20)
    cache.put(("f", 0, 0), np.ones(3))
    cache.set_fact(("f", 0, 0), (3,))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report whether it sees the parent's entries
        os.write(w, b"1" if cache.get(("f", 0, 0)) is None and cache.fact(("f", 0, 0)) is None else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(r, 1) == b"1"
    assert cache.get(("f", 0, 0)) is not None  # the parent keeps its own
