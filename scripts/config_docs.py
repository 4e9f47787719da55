#!/usr/bin/env python
"""Write docs/configuration.md from the config schema's descriptions (kvroute/config_docs.py).

    python scripts/config_docs.py            # rewrite the page
    python scripts/config_docs.py --check    # exit 1 if the page differs from the schema
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kvroute.config_docs import render  # noqa: E402
from kvroute.io import write_text  # noqa: E402

PAGE = ROOT / "docs" / "configuration.md"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    a = p.parse_args(argv)
    text = render()
    if a.check:
        same = PAGE.exists() and PAGE.read_text(encoding="utf-8") == text
        print(f"{PAGE.relative_to(ROOT)} {'matches' if same else 'differs from'} the schema")
        return 0 if same else 1
    write_text(PAGE, text)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
