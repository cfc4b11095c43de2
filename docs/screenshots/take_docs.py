"""Screenshots of pages of the built docs site as a reader first sees them, in headless Chromium.

    mkdocs build --strict -d /tmp/site
    PYTHONPATH=tests python docs/screenshots/take_docs.py /tmp/site docs/assets

writes OUT_DIR/docs-<page>.png (1280 × 900 viewport) for the pages named in PAGES and fails on console errors
or images that did not load. Needs Chromium (``apt-get install chromium``) and Playwright (the dev extra).
"""

import sys
from pathlib import Path

from browser import render

#: The pages shot: the protocol's stage list and the API reference generated from the docstrings.
PAGES = ("protocol", "api")


def main(site_dir: str, out_dir: str) -> int:
    site, out = Path(site_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for page in PAGES:
        r = render(site / page / "index.html", ("h1",), width=1280, height=900)
        broken = [alt for alt, loaded, w, _ in r.images if not loaded or w == 0]
        if r.errors or broken:
            print(f"{page}: console errors {r.errors}, images not loaded {broken}")
            bad += 1
        (out / f"docs-{page}.png").write_bytes(r.screenshot)
        print(f"{out / f'docs-{page}.png'}: h1 {r.text['h1']!r}, {len(r.images)} images")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
