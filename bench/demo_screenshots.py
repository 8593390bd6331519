"""Screenshots of the running demo at a desktop and a phone width, to look at before a release.

    python space/app.py --port 7860 &
    python bench/demo_screenshots.py http://127.0.0.1:7860/ --output /tmp/carseg_screens

For each width it saves the empty page (``<width>_empty.png``: where do the examples sit?) and the
page after clicking the first example with "Main car only" and a white background
(``<width>_result.png``), and prints how far down the page the examples and the result are.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
TIMEOUT_MS = 120_000


def wait_for_result(page: Page) -> None:
    """Wait until the before/after slider shows two loaded images and the downloads are listed."""
    page.wait_for_function(
        """() => { const images = [...document.querySelectorAll('#before-after img')];
                   return images.length >= 2 && images.every(i => i.complete && i.naturalWidth > 0); }""",
        timeout=TIMEOUT_MS,
    )
    page.locator("#downloads a").first.wait_for(timeout=TIMEOUT_MS)


def top_of(page: Page, selector: str) -> int:
    """Distance in CSS pixels from the top of the page to the first element matching ``selector``."""
    return round(page.locator(selector).first.evaluate("e => e.getBoundingClientRect().top + window.scrollY"))


def capture(url: str, output: Path, width: int, height: int, name: str, browser) -> dict[str, int]:
    """Save ``<name>_empty.png`` and ``<name>_result.png``; return where the examples and the result sit."""
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
    page.goto(url)
    page.locator(".gallery-item").first.wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(output / f"{name}_empty.png"), full_page=True)
    positions = {"examples_top": top_of(page, ".gallery-item"), "result_top": top_of(page, "#before-after")}
    page.locator("#main-car input").check()
    page.get_by_label("White").check()
    page.locator(".gallery-item").first.click()
    wait_for_result(page)
    page.screenshot(path=str(output / f"{name}_result.png"), full_page=True)
    positions["page_height"] = page.evaluate("document.documentElement.scrollHeight")
    page.close()
    return positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the running demo, e.g. http://127.0.0.1:7860/")
    parser.add_argument("--output", type=Path, default=Path("/tmp/carseg_screens"), help="folder for the PNGs")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            for name, (width, height) in WIDTHS.items():
                positions = capture(args.url, args.output, width, height, name, browser)
                print(f"{name} ({width} px): " + ", ".join(f"{key} {value} px" for key, value in positions.items()))
        finally:
            browser.close()
    print(f"screenshots in {args.output}")


if __name__ == "__main__":
    main()
