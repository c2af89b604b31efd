"""Atomic writes: complete results only under the final name, with ordinary permissions."""

from __future__ import annotations

import pytest

from emgaug.atomic import atomic_path


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    """Temporary files are private; the renamed result must be readable like any file the user writes."""
    import os
    import stat

    from emgaug.atomic import write_json_atomic

    mask = os.umask(0o022)
    try:
        f = write_json_atomic(tmp_path / "x.json", {"a": 1})
        with atomic_path(tmp_path / "d", is_dir=True) as d:
            (d / "inner.txt").write_text("x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(f.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_a_failed_write_leaves_nothing_and_keeps_the_old_result(tmp_path):
    final = tmp_path / "out.txt"
    final.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert final.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
