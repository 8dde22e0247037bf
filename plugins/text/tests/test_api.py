"""``mltasks_text.api``: the one module other plugins import from (see its docstring)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import mltasks_text.api as api


def test_every_public_name_exists_and_is_the_defining_modules_object() -> None:
    assert api.__all__, "the public surface is empty"
    assert len(set(api.__all__)) == len(api.__all__), "a name is listed twice in __all__"
    assert set(api.__all__) == set(api._SOURCES), "__all__ and the name -> module table differ"
    for name in api.__all__:
        value = getattr(api, name)
        defining = importlib.import_module(f"mltasks_text.{api._SOURCES[name]}")
        assert value is getattr(defining, name), name
    assert set(api.__all__) <= set(dir(api))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'tokenize'"):
        api.tokenize  # noqa: B018
    with pytest.raises(ImportError):
        from mltasks_text.api import read_table  # noqa: F401  (internal: not re-exported)


def test_the_data_names_need_neither_torch_nor_transformers() -> None:
    """Each name is imported on first use: reading text data does not pull in torch."""
    code = ("import sys; from mltasks_text.api import load_text_splits, write_sample_data, refuse_custom_code; "
            "heavy = sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules); "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "", f"importing the data names imported {out.stdout.strip()}"
