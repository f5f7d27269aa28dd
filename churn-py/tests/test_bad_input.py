"""Bad input: a clear exception, never a crash."""

from __future__ import annotations

import math
from typing import Any, Dict, List

import pytest

import churnlens


@pytest.mark.parametrize("props,match", [
    ({1: "x"}, "keys must be str"),
    ({"a": float("nan")}, "finite"),
    ({"a": {"b": math.inf}}, "properties.a.b"),
    ({"a": object()}, "cannot store"),
    ({"a": {1, 2}}, "cannot store"),
    ({"a": 2**80}, "64-bit"),
    ({"a": [1, b"bytes"]}, r"properties.a\[1\]"),
])
def test_bad_properties(mem: churnlens.Analytics, props: Dict[Any, Any], match: str) -> None:
    with pytest.raises(churnlens.ValidationError, match=match):
        mem.track("x", user_id="u", properties=props)


def test_circular_dict(mem: churnlens.Analytics) -> None:
    d: Dict[str, Any] = {}
    d["self"] = d
    with pytest.raises(churnlens.ValidationError, match="circular"):
        mem.track("x", user_id="u", properties=d)
    lst: List[Any] = []
    lst.append(lst)
    r = mem.track_batch([{"event": "x", "user_id": "u", "properties": {"l": lst}}])
    assert r["rejected"][0]["index"] == 0


def test_huge_dict(mem: churnlens.Analytics) -> None:
    huge = {f"k{i}": "v" * 100 for i in range(20_000)}
    with pytest.raises(churnlens.ValidationError, match="bytes"):
        mem.track("x", user_id="u", properties=huge)


def test_wrong_types(mem: churnlens.Analytics) -> None:
    with pytest.raises(TypeError):
        mem.track(42, user_id="u")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mem.track("x", user_id=7)  # type: ignore[arg-type]
    with pytest.raises(churnlens.ValidationError):
        mem.track("x", user_id="u", properties=["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(churnlens.ValidationError):
        mem.track("x", user_id="u", timestamp=1.5)  # type: ignore[arg-type]
    with pytest.raises(churnlens.ValidationError):
        mem.track("x", user_id="u", timestamp=True)  # type: ignore[arg-type]
    with pytest.raises(churnlens.ValidationError):
        mem.track("x", user_id="u", timestamp="yesterday-ish")
    with pytest.raises(churnlens.ValidationError):
        mem.track_batch("not a list")  # type: ignore[arg-type]
    with pytest.raises(churnlens.ValidationError):
        mem.track("x", user_id="u", context={"ip": 5})


def test_empty_and_control_chars(mem: churnlens.Analytics) -> None:
    with pytest.raises(churnlens.ValidationError):
        mem.track("", user_id="u")
    with pytest.raises(churnlens.ValidationError):
        mem.track("x", user_id="bad\x00id")
    with pytest.raises(churnlens.ValidationError):
        mem.track("x", user_id="u", timestamp=10**18)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(churnlens.ValidationError):
        churnlens.Analytics.in_memory(flush_interval=float("nan"))
    with pytest.raises(churnlens.ValidationError):
        churnlens.Analytics.in_memory(privacy={"pii_mode": 3})
    with pytest.raises(TypeError):
        churnlens.Analytics.in_memory(batch_size="ten")  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        churnlens.Analytics.in_memory(batch_size=-1)


def test_track_batch_large_mixed(mem: churnlens.Analytics) -> None:
    batch: List[Any] = [{"event": "e", "user_id": f"u{i}"} for i in range(1000)]
    batch[500] = {"event": "e", "user_id": None}
    r = mem.track_batch(batch)
    assert r["accepted"] == 999 and r["rejected"][0]["index"] == 500
