"""Render a report page in headless Chromium (Debian's package, driven by Playwright) and read what a reader sees.

Used by ``tests/report/test_browser.py`` and by ``docs/screenshots/take.py``. The browser is the distribution's
``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it) or ``$SGDP_CHROMIUM``; Playwright only
drives it (no browser download).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

#: Flags for a closed network: no background connections, no first-run UI, no GPU.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def chromium() -> str | None:
    """The Chromium executable, or None where there is none."""
    exe = os.environ.get("SGDP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return exe if exe and Path(exe).exists() else None


@dataclass
class Rendered:
    """What the browser saw: console errors and uncaught exceptions, each image's (alt, loaded, width, height),
    the text of the elements asked for (None when missing), and the first screen as PNG bytes."""

    errors: list[str]
    images: list[tuple[str, bool, int, int]]
    text: dict[str, str | None]
    screenshot: bytes


def render(page_path: Path, selectors: tuple[str, ...] = ("#settings", "#verdict", "h1"), *,
           width: int = 1100, height: int = 900, full_page: bool = False) -> Rendered:
    """Open ``page_path`` (a file) in headless Chromium and collect :class:`Rendered`."""
    from playwright.sync_api import sync_playwright

    exe = chromium()
    if exe is None:
        raise RuntimeError("no Chromium: apt-get install chromium, or set SGDP_CHROMIUM to its executable.")
    errors: list[str] = []
    with sync_playwright() as pw:  # Playwright gives the browser a fresh empty profile
        browser = pw.chromium.launch(executable_path=exe, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
            page.goto(Path(page_path).resolve().as_uri(), wait_until="load")
            images = [tuple(x) for x in page.evaluate(
                "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")]
            text = {s: (page.inner_text(s) if page.query_selector(s) else None) for s in selectors}
            shot = page.screenshot(full_page=full_page)
        finally:
            browser.close()
    return Rendered(errors, images, text, shot)
