"""The docs do not lie: README commands run, and every file they name exists.

Commands from README's "Useful targets:" block run in a way that is fast and
changes nothing: snakemake as a dry-run, scripts with --help.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SCRUBBED_ENV

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]

# Workflow outputs: named in the docs, absent from a fresh checkout.
OUTPUT_DIRS = ("data", "results", "figures", "logs", "benchmarks", "resources")
# A backticked word with one of these endings is a file name, not a config key or attribute.
FILE_ENDINGS = (".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".sh", ".smk", ".def", ".rst", ".json",
                ".cfg", ".ini", ".mplstyle")
SKIP_DIRS = {"__pycache__"}


def fenced_block_after(text: str, marker: str) -> list[str] | None:
    """Lines of the first fenced code block after the line ``marker``, or None."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == marker)
    except StopIteration:
        return None
    fences = [i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("```")]
    if len(fences) < 2:
        return None
    return lines[fences[0] + 1:fences[1]]


def useful_targets() -> list[list[str]]:
    block = fenced_block_after(README.read_text(encoding="utf-8"), "Useful targets:") or []
    return [argv for argv in (shlex.split(line, comments=True) for line in block) if argv]


def safe_command(argv: list[str], scratch: Path) -> list[str]:
    """The fast, state-free variant of a README command: snakemake plans in an empty ``scratch`` directory,
    so outputs the checkout already holds cannot make the plan "Nothing to be done"."""
    if argv[0] == "snakemake":
        dry = {"-n", "--dry-run", "--dryrun"} & set(argv)
        return [*argv, *([] if dry else ["-n"]), "--quiet", "--nolock", "--snakefile", str(REPO / "Snakefile"),
                "--directory", str(scratch)]
    if argv[0] == "python" and "--help" in argv:  # help changes nothing: run it as written
        return [sys.executable, *argv[1:]]
    if argv[0] == "python" and len(argv) > 1 and argv[1].startswith("scripts/"):
        return [sys.executable, argv[1], "--help"]
    raise AssertionError(f"no safe way to run {shlex.join(argv)!r}; teach tests/workflow/test_docs.py one")


def test_readme_has_useful_targets():
    assert useful_targets(), 'README.md needs a fenced block after a line "Useful targets:"'


@pytest.mark.parametrize("argv", useful_targets(), ids=shlex.join)
def test_useful_target_runs(argv, tmp_path):
    cmd = safe_command(argv, tmp_path)
    # The venv's snakemake and python first, whether or not it is activated.
    env = {**{k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}, "HF_HUB_OFFLINE": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    out = f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    assert res.returncode == 0, f"{shlex.join(cmd)} exited {res.returncode}:\n{out}"


@functools.cache
def repo_entries() -> tuple[set[str], set[str]]:
    """(files, folders) of the checkout, repo-relative, leaving out hidden and output folders."""
    files, folders = set(), set()
    for root, dirs, names in os.walk(REPO):
        rel = Path(root).relative_to(REPO).as_posix()
        # Output folders sit at the top only: kvroute/figures/ is source.
        dirs[:] = [d for d in dirs if not d.startswith(".") and not d.endswith(".egg-info") and d not in SKIP_DIRS
                   and not (rel == "." and d in OUTPUT_DIRS)]
        if rel != ".":
            folders.add(rel)
        files.update(n if rel == "." else f"{rel}/{n}" for n in names)
    return files, folders


def is_output(path: str) -> bool:
    return (path.split("/")[0] in OUTPUT_DIRS or path == "report.html"
            or (path.startswith("containers/") and path.endswith(".sif")))


def references(md: Path) -> list[tuple[str, str]]:
    """(kind, target) of backticked paths and links; fenced code is not prose and is skipped."""
    text = re.sub(r"^\s*```.*?^\s*```", "", md.read_text(encoding="utf-8"), flags=re.S | re.M)
    # Each word of a code span, so `scripts/x.py --flag` checks its script.
    refs = [("code", word) for span in re.findall(r"`([^`\n]+)`", text) for word in span.split()]
    refs += [("link", m) for m in re.findall(r"\]\(([^)\s]+)[^)]*\)", text)]
    return refs


def broken_references(md: Path, files: set[str], folders: set[str]) -> list[str]:
    top = {p.split("/")[0] for p in files | folders}
    basenames = {p.rsplit("/", 1)[-1] for p in files}
    broken = []
    for kind, target in references(md):
        target = target.split("#")[0].strip()
        if not target or "{" in target or "*" in target or re.match(r"^[a-z]+:", target):
            continue  # anchors, templates, globs, URLs
        if kind == "link":
            resolved = os.path.normpath((md.parent / target).relative_to(REPO).as_posix())
            if resolved.startswith(".."):
                broken.append(f"{target} (outside the repo)")
                continue
        else:
            if not re.fullmatch(r"[\w.\-/]+", target) or target.startswith(("-", "..")):
                continue  # prose, commands, options
            resolved = target.removeprefix("./")
            looks_like_file = resolved.rstrip("/").endswith(FILE_ENDINGS)
            if "/" in resolved:
                # `metrics/` in a sentence about `kvroute/` names a subfolder, not one at the root.
                if resolved.split("/")[0] not in top and not looks_like_file:
                    continue
            elif not looks_like_file:
                continue  # config keys, attributes, plain words
            elif resolved in files or resolved in basenames:
                continue  # a bare file name (`engine.py`) is named within the folder the prose gives
        if is_output(resolved):
            continue
        if resolved.rstrip("/") not in files | folders:
            broken.append(target)
    return broken


@pytest.mark.parametrize("md", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_paths_in_docs_exist(md):
    files, folders = repo_entries()
    assert broken_references(md, files, folders) == []


def test_code_cites_only_docs_that_exist():
    # The team's design brief lives outside the repo: code must cite pages under docs/.
    sources = [REPO / "Snakefile", *(p for d in ("kvroute", "rules", "scripts", "tests")
                                    for p in sorted((REPO / d).rglob("*")) if p.suffix in (".py", ".smk", ".sh"))]
    brief, bad = "DESIGN" + ".md", []  # spelt in two so that this file does not cite it
    for path in sources:
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(REPO).as_posix()
        if brief in text:
            bad.append(f"{rel}: cites {brief}, which is not in the repo")
        bad += [f"{rel}: {doc}" for doc in re.findall(r"docs/[\w.\-]+\.md", text) if not (REPO / doc).exists()]
    assert bad == []


def test_configuration_page_is_the_schema():
    """docs/configuration.md is generated from the schema; regenerate it with `python scripts/config_docs.py`."""
    from kvroute.config_docs import render

    assert (REPO / "docs" / "configuration.md").read_text(encoding="utf-8") == render()


def test_every_config_key_says_what_it_means():
    from kvroute.config import load_schema
    from kvroute.config_docs import rows

    schema = load_schema()
    silent = [key for section, node in schema["properties"].items() for key, _, _, meaning in rows(node, schema, section)
              if not meaning]
    assert silent == [], "describe these keys in kvroute/schemas/config.schema.yaml"


def test_readme_is_a_front_page_and_the_details_have_their_pages():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines: move details to docs/"
    for page in ("inference.md", "performance.md", "configuration.md", "outputs.md", "cpu-and-dtype.md"):
        assert (REPO / "docs" / page).exists(), page
        assert f"docs/{page}" in README.read_text(encoding="utf-8"), f"README does not link docs/{page}"
