"""The shared cache: location, content keys, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mltasks.cache import atomic_dir, atomic_file, cache_dir, content_key


def test_cache_dir_follows_the_environment(mltasks_cache_dir):
    assert cache_dir("features") == mltasks_cache_dir / "features"
    assert (mltasks_cache_dir / "features").is_dir()


def test_content_key_depends_on_content_not_on_path(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    assert content_key(a, {"x": 1}) == content_key(b, {"x": 1})
    b.write_bytes(b"other")
    assert content_key(a, {"x": 1}) != content_key(b, {"x": 1})
    assert content_key({"x": 1, "y": 2}) == content_key({"y": 2, "x": 1})


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "entry"
    with pytest.raises(RuntimeError):
        with atomic_dir(final) as tmp:
            (tmp / "half.bin").write_bytes(b"x")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with atomic_dir(final) as tmp:
        (tmp / "whole.bin").write_bytes(b"x")
    assert [p.name for p in final.iterdir()] == ["whole.bin"]
    with atomic_dir(final) as tmp:  # a racing second writer keeps the first entry
        (tmp / "other.bin").write_bytes(b"y")
    assert [p.name for p in final.iterdir()] == ["whole.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]


def test_atomic_file(tmp_path):
    target = tmp_path / "f.json"
    with atomic_file(target, "w") as fh:
        fh.write("{}")
    assert target.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["f.json"]
    assert isinstance(target, Path)
