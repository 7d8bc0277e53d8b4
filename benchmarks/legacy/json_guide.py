"""LEGACY (benchmark baseline only; the product uses XGrammar). Cheap schema-guided JSON for engines without grammar support (transformers).

A 135M model shown a JSON schema tends to echo the schema back. Here the engine writes
the keys and punctuation itself and lets the model produce only the *values*, one
`complete()` call per value with type-specific stops. The result always parses; content
constraints (lengths, bounds) are still validated by `llm/structured.py`. Only flat
objects of primitives, enums and arrays of primitives are guided; anything else returns
None and the engine falls back to free generation.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

# complete(prefix, stop, max_tokens) -> (generated text, generated token count)
Complete = Callable[[str, list[str], int], tuple[str, int]]
PRIMITIVES = ("string", "number", "integer", "boolean")
_NUM = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow one `$ref` into `$defs` and take the non-null branch of Optional[...]."""
    if "$ref" in node:
        node = root.get("$defs", {}).get(node["$ref"].split("/")[-1], {})
    branches = [b for b in node.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        node = _resolve(branches[0], root)
    return node


def _kind(node: dict[str, Any], root: dict[str, Any]) -> str | None:
    if "enum" in node:
        return "enum"
    t = node.get("type")
    if t in PRIMITIVES:
        return t
    if t == "array" and _kind(_resolve(node.get("items", {}), root), root) in PRIMITIVES + ("enum",):
        return "array"
    return None


def guidable(schema: dict[str, Any] | None) -> bool:
    if not schema or schema.get("type", "object") != "object" or not schema.get("properties"):
        return False
    return all(_kind(_resolve(p, schema), schema) for p in schema["properties"].values())


class _Filler:
    def __init__(self, complete: Complete, budget: int):
        self.complete, self.budget, self.used, self.text = complete, budget, 0, ""

    def gen(self, stop: list[str], cap: int) -> str:
        n = max(1, min(cap, self.budget - self.used))
        out, used = self.complete(self.text, stop, n)
        self.used += used
        for s in stop:  # engines may or may not cut at the stop string
            if s in out:
                out = out[: out.index(s)]
        return out

    def emit(self, s: str) -> None:
        self.text += s

    def value(self, node: dict[str, Any], root: dict[str, Any]) -> Any:
        kind = _kind(node, root)
        if kind == "string":
            self.emit('"')
            v = self.gen(['"', "\n"], int(node.get("maxLength", 60)) + 4).strip()
            self.emit(json.dumps(v)[1:])
            return v
        if kind in ("number", "integer"):
            m = _NUM.search(self.gen([",", "}", "\n"], 10))
            v: Any = float(m.group()) if m else 0
            v = int(v) if kind == "integer" else v
            self.emit(json.dumps(v))
            return v
        if kind == "boolean":
            v = self.gen([",", "}"], 3).strip().lower().startswith("t")
            self.emit(json.dumps(v))
            return v
        if kind == "enum":
            return self._enum(node)
        return self._array(node, root)

    def _enum(self, node: dict[str, Any], got: str | None = None) -> Any:
        choices = node["enum"]
        quoted = all(isinstance(c, str) for c in choices)
        self.emit('"' if quoted else "")
        if got is None:
            got = self.gen(['"', ",", "}"], 8).strip()
        best = _closest(choices, got)
        self.emit(json.dumps(best)[1:] if quoted else json.dumps(best))
        return best

    def _first_enum(self, item: dict[str, Any]) -> Any | None:
        """An optional list of choices (minItems 0): the model either closes the list or
        starts a choice; what it starts is snapped to the closest allowed value."""
        probe = self.gen(["]", ",", "\n"], 12).strip().strip('"').strip()
        return None if not probe else self._enum(item, probe)

    def _array(self, node: dict[str, Any], root: dict[str, Any]) -> list[Any]:
        item = _resolve(node.get("items", {}), root)
        lo, hi = int(node.get("minItems", 1)), int(node.get("maxItems", 5))
        self.emit("[")
        items: list[Any] = []
        if lo == 0 and _kind(item, root) == "enum":
            first = self._first_enum(item) if hi > 0 else None
            if first is None:
                self.emit("]")
                return items
            items.append(first)
            if len(items) < hi and self.gen(['"', "\n"], 2).lstrip().startswith(","):
                self.emit(", ")
            else:
                self.emit("]")
                return items
        while len(items) < hi and self.used < self.budget:
            v = self.value(item, root)
            if _kind(item, root) == "enum" and v in items:  # a repeated choice ends the list
                break
            items.append(v)
            if len(items) >= hi:
                break
            if len(items) >= lo and not self.gen(['"', "\n"], 2).lstrip().startswith(","):
                break
            self.emit(", ")
        self.emit("]")
        return items


def _closest(choices: list[Any], got: str) -> Any:
    g = got.lower()
    return max(choices, key=lambda c: (str(c).lower() == g, str(c).lower().startswith(g[:4]) if g else 0,
                                       len(set(str(c).lower()) & set(g))))


def guided_json(schema: dict[str, Any], complete: Complete, max_tokens: int) -> tuple[str, int]:
    """Fill `schema` (see `guidable`); returns (JSON text, generated token count)."""
    props: dict[str, Any] = schema["properties"]
    required = [k for k in props if k in set(schema.get("required", []))] or list(props)
    f = _Filler(complete, max_tokens)
    f.emit("{")
    obj: dict[str, Any] = {}
    for i, key in enumerate(required):
        f.emit(("" if i == 0 else ", ") + json.dumps(key) + ": ")
        obj[key] = f.value(_resolve(props[key], schema), schema)
    f.emit("}")
    return json.dumps(obj), f.used
