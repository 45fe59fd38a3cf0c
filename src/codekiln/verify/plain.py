"""Plain data across the sandbox boundary: a tagged-JSON codec and length-prefixed frames.

Stdlib-only: the sandbox worker runs it too (the host sends this file's source ahead of the worker's).
Only None, bool, int, float, str, list, tuple, dict, set, frozenset, bytes and complex survive
`decode_plain`; nothing from a candidate is ever unpickled or unmarshalled by the host. Subclasses of
builtins are sent as their builtin value, so whatever their `__eq__` says, the receiver compares plain data.
"""

from __future__ import annotations

import json
import os
import struct

MAX_FRAME = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


class Unplain(Exception):
    """A value that is not plain data; `custom_eq` tells whether its class overrides __eq__ (a forgery hint)."""

    def __init__(self, type_name: str, custom_eq: bool) -> None:
        super().__init__(type_name)
        self.type_name = type_name
        self.custom_eq = custom_eq


_SCALARS = (type(None), bool, int, float, str)


def _tagged(value, depth):
    if depth > 200:
        raise Unplain("nesting deeper than 200", False)
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [_tagged(v, depth + 1) for v in value]
    if kind is tuple:
        return {"t": [_tagged(v, depth + 1) for v in value]}
    if kind is dict:
        return {"d": [[_tagged(k, depth + 1), _tagged(v, depth + 1)] for k, v in value.items()]}
    if kind is set:
        return {"s": [_tagged(v, depth + 1) for v in value]}
    if kind is frozenset:
        return {"f": [_tagged(v, depth + 1) for v in value]}
    if kind is bytes:
        return {"b": value.hex()}  # hex, not base64: the worker then needs no binascii (nor its libz)
    if kind is complex:
        return {"c": [value.real, value.imag]}
    # Subclasses of builtins become the builtin: whatever their __eq__ says, the receiver compares plain data.
    for base in (bool, int, float, str, bytes, list, tuple, dict, set, frozenset):
        if isinstance(value, base):
            return _tagged(base(value), depth)
    custom_eq = getattr(type(value), "__eq__", object.__eq__) is not object.__eq__
    raise Unplain(f"{kind.__module__}.{kind.__qualname__}", custom_eq)


def encode_plain(value) -> str:
    """Tagged JSON for a plain value; raises Unplain for anything else."""
    try:
        return json.dumps(_tagged(value, 0))
    except RecursionError:
        raise Unplain("self-referencing value", False) from None


_TAGS = {
    "t": tuple,
    "s": set,
    "f": frozenset,
}


def _untag(obj):
    if len(obj) != 1:
        raise ValueError("not a tagged value")
    (tag, payload), = obj.items()
    if tag in _TAGS and type(payload) is list:
        return _TAGS[tag](payload)
    if tag == "d" and type(payload) is list:
        out = {}
        for item in payload:
            if type(item) is not list or len(item) != 2:
                raise ValueError("bad dict item")
            out[item[0]] = item[1]
        return out
    if tag == "b" and type(payload) is str:
        return bytes.fromhex(payload)
    if tag == "c" and type(payload) is list and len(payload) == 2:
        return complex(float(payload[0]), float(payload[1]))
    raise ValueError(f"unknown tag {tag!r}")


def decode_plain(text):
    """The plain value of tagged JSON; raises ValueError for anything malformed."""
    try:
        return json.loads(text, object_hook=_untag)
    except (RecursionError, TypeError, OverflowError, UnicodeDecodeError) as err:
        raise ValueError(f"malformed plain data: {type(err).__name__}") from None


def write_frame(fd: int, obj) -> None:
    data = json.dumps(obj).encode("utf-8")
    data = _HEADER.pack(len(data)) + data
    while data:
        n = os.write(fd, data)
        data = data[n:]
