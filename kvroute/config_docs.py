"""docs/configuration.md, generated from the config schema's descriptions (so the page cannot drift from it).

    python scripts/config_docs.py            # rewrite docs/configuration.md
"""

from __future__ import annotations

import json

from kvroute.config import load_schema

TITLE = "# Configuration"
INTRO = """Every key a config may set, from `kvroute/schemas/config.schema.yaml` (the one place defaults and meanings
live; this page is generated from it by `python scripts/config_docs.py`, and a test keeps the two equal).
`config.yaml` is the embedded default study, `config/models.yaml` the model registry every config sits on, and a
`--configfile` replaces `config.yaml` rather than merging into it. A bad value stops `snakemake` (and
`snakemake -n`) before any job runs, with one line naming the key and the allowed values."""


def _resolve(node: dict, schema: dict) -> dict:
    if "$ref" in node:
        target = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _allowed(node: dict) -> str:
    """What values the key takes, in words."""
    if "enum" in node:
        return ", ".join("null" if v is None else f"`{v}`" for v in node["enum"])
    kind = node.get("type", "")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and isinstance(node.get("items"), dict):
        inner = _allowed(node["items"])
        kind = f"list of {inner}" if inner else "list"
    bounds = []
    for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in node:
            bounds.append(f"{sign} {node[key]}")
    return " ".join([kind, *bounds]).strip()


def _default(node: dict) -> str:
    if "default" not in node:
        return ""
    value = node["default"]
    if isinstance(value, dict) and not value:
        return ""
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def rows(node: dict, schema: dict, path: str = "") -> list[tuple[str, str, str, str]]:
    """(key, allowed values, default, description) for the node and everything under it, in schema order."""
    node = _resolve(node, schema)
    out = []
    if path:
        out.append((path, _allowed(node), _default(node), node.get("description", "")))
    for name, child in node.get("properties", {}).items():
        out += rows(child, schema, f"{path}.{name}" if path else name)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and (extra.get("properties") or "$ref" in extra):
        out += rows(extra, schema, f"{path}.NAME")
    return out


def render(schema: dict | None = None) -> str:
    schema = schema or load_schema()
    lines = [TITLE, "", INTRO, ""]
    for section, node in schema["properties"].items():
        lines += [f"## `{section}`", ""]
        found = rows(node, schema, section)
        lines += ["| key | values | default | meaning |", "|---|---|---|---|"]
        lines += [f"| `{k}` | {_cell(a)} | {_cell(d)} | {_cell(m)} |" for k, a, d, m in found]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
