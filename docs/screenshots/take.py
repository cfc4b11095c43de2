"""Screenshots of a run's report as a reader first sees it, in headless Chromium, and the figures a referee
looks at first — for before/after comparisons of the report (issue 13).

    PYTHONPATH=tests python docs/screenshots/take.py RUN_DIR OUT_DIR

writes OUT_DIR/report-first-screen.png (1100 × 900 viewport) and copies figures/ivf.png, scaling.png and
lyapunov.png as drawn. Needs Chromium (``apt-get install chromium``) and Playwright (the dev extra).
"""

import shutil
import sys
from pathlib import Path

from browser import render


def main(run_dir: str, out_dir: str) -> None:
    run, out = Path(run_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    r = render(run / "report.html")
    if r.errors:
        print("console errors:", *r.errors, sep="\n  ")
    (out / "report-first-screen.png").write_bytes(r.screenshot)
    for name in ("ivf.png", "scaling.png", "lyapunov.png"):
        shutil.copyfile(run / "figures" / name, out / name)
    print(f"{out}: report-first-screen.png, ivf.png, scaling.png, lyapunov.png; {len(r.images)} images loaded")


if __name__ == "__main__":
    main(*sys.argv[1:3])
