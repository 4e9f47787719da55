#!/usr/bin/env python
"""The press leaderboard as a page of the docs: leaderboard.md under docs/, and the figure beside it.

Reads a finished leaderboard (results/leaderboard.csv, and results/leaderboard_summary.csv when present; the
ranking is rebuilt from the long table otherwise), writes its Markdown (kvroute.leaderboard_report) with the
figure on top, and copies figures/leaderboard.png beside the page (leaderboard.png under docs/). The config
names what each ranked press runs and, through kvroute.press_specs, the kvpress presses the run left out.

    snakemake leaderboard --cores 2 --configfile config/leaderboard.yaml
    python scripts/leaderboard_report.py --note docs/runs/leaderboard-note.md
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

from kvroute import config as config_module
from kvroute.io import atomic_path, write_text
from kvroute.leaderboard_report import leaderboard_markdown
from kvroute.paths import LEADERBOARD_FILES
from kvroute.stats.ranking import rank_table


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", type=Path, default=Path(LEADERBOARD_FILES["table"]), help="the long leaderboard")
    p.add_argument("--summary", type=Path, default=Path(LEADERBOARD_FILES["summary"]),
                   help="the ranked summary (rebuilt from --table when the file is missing)")
    p.add_argument("--figure", type=Path, default=Path("figures/leaderboard.png"),
                   help="the figure's PNG (left out of the page when missing)")
    # The page does not exist until a leaderboard has been run.
    p.add_argument("--out", type=Path, default=Path("docs", "leaderboard.md"),
                   help="the Markdown page (default: leaderboard.md under docs/); the PNG goes beside it")
    p.add_argument("--config", type=Path, default=Path("config", "leaderboard.yaml"),
                   help="the run's config: what each press name runs, and which kvpress presses it left out")
    p.add_argument("--note", type=Path, help="a Markdown file placed under the title (how the run was made, "
                                             "what the ranking shows)")
    a = p.parse_args(argv)
    if not a.table.exists():
        sys.exit(f"{a.table} does not exist: run `snakemake leaderboard --configfile config/leaderboard.yaml` first")
    long = pd.read_csv(a.table)
    wide = pd.read_csv(a.summary) if a.summary.exists() else rank_table(long)
    presses = config_module.load(a.config)["presses"]
    note = a.note.read_text() if a.note else ""
    text = leaderboard_markdown(long, wide, presses, note)
    if a.figure.exists():
        png = a.out.with_suffix(".png")
        with atomic_path(png) as tmp:
            shutil.copyfile(a.figure, tmp)
        title, rest = text.split("\n", 1)
        text = f"{title}\n\n![Presses ranked by F1 retained, with their evidence measures]({png.name})\n{rest}"
    write_text(a.out, text)
    print(f"wrote {a.out}" + (f" and {a.out.with_suffix('.png')}" if a.figure.exists() else ""))


if __name__ == "__main__":
    main()
