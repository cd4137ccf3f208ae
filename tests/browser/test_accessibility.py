"""Everyone can use the page: axe-core finds nothing, the keyboard reaches every control and
leaves the pad, the digit read is announced, and every width from a phone to a laptop fits.

The page's own server for each module; each test opens its own page, so any one can run alone.
"""

from __future__ import annotations

import contextlib

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import axe_violations, draw_stroke, new_context, open_dashboard

pytestmark = pytest.mark.browser

SEVEN = [(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.62, 0.45), (0.5, 0.65), (0.42, 0.85)]

# Where the keyboard focus is, as the test reads it: a CSS class of ours, or the tag.
FOCUSED = """() => {
    const element = document.activeElement;
    let node = element;
    while (node && node !== document.body) {
        const ours = [...(node.classList || [])].find(c => c.startsWith('dw-'));
        if (ours) return {hook: ours, tag: element.tagName};
        node = node.parentElement;
    }
    return {hook: null, tag: element ? element.tagName : null};
}"""

FOCUS_VISIBLE = """() => {
    const style = getComputedStyle(document.activeElement);
    return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
        || style.boxShadow !== 'none';
}"""

OUTSIDE_VIEWPORT = """() => {
    const width = document.documentElement.clientWidth;
    const outside = [];
    for (const element of document.querySelectorAll('.dw-dashboard *')) {
        const box = element.getBoundingClientRect();
        if (box.width === 0 || box.height === 0) continue;
        const style = getComputedStyle(element);
        if (style.visibility === 'hidden' || style.display === 'none') continue;
        if (box.left < -1 || box.right > width + 1) {
            outside.push(`${element.tagName}.${String(element.className).slice(0, 60)} `
                         + `${Math.round(box.left)}..${Math.round(box.right)}`);
        }
    }
    return {width, scroll_width: document.documentElement.scrollWidth, outside};
}"""


FITS = f"""width => {{
    const layout = ({OUTSIDE_VIEWPORT})();
    return layout.outside.length === 0 && layout.scroll_width <= width;
}}"""


# A control of each tab of step 4, shown once its tab is.
TAB_CONTENT = {
    "Evaluate": ".dw-evaluate",
    "Map of digits": ".dw-map-recompute",
    "Compare runs": ".dw-runs-table",
    "Sweeps": ".dw-sweep",
    "Export": ".dw-export",
}


def test_axe_finds_nothing_on_the_page_nor_in_any_tab_of_step_4(browser, dashboard_server):
    page = open_dashboard(browser, dashboard_server.url, width=1366, height=768)
    try:
        assert axe_violations(page) == []
        page.click(".dw-open-details")
        page.wait_for_selector(".dw-tabs")
        for title, content in TAB_CONTENT.items():
            page.get_by_role("tab", name=title).click()
            page.locator(content).first.wait_for(state="visible", timeout=10_000)
            # The rest of the page was checked above; each tab adds only its own panel.
            assert axe_violations(page, within=".dw-tabs") == [], f"in the {title} tab"
    finally:
        page.context.close()


def test_the_keyboard_reaches_every_step_and_leaves_the_pad(browser, dashboard_server):
    page = open_dashboard(browser, dashboard_server.url, width=1366, height=768)
    try:
        page.locator("body").click(position={"x": 2, "y": 2})
        visited = []
        for _ in range(80):
            before = page.evaluate_handle("() => document.activeElement")
            page.keyboard.press("Tab")
            # The focus moves at once, or from the pad through the kernel: wait until it has.
            try:
                page.wait_for_function(
                    "before => document.activeElement !== before", arg=before, timeout=5_000
                )
            except PlaywrightTimeoutError:
                raise AssertionError(f"Tab kept the focus on {visited[-1:]}: {visited}") from None
            focused = page.evaluate(FOCUSED)
            visited.append(focused["hook"] or focused["tag"])
            assert page.evaluate(FOCUS_VISIBLE), f"no visible focus on {visited[-1]}"
            if focused["hook"] == "dw-open-details":
                break
        order = [hook for hook in visited if hook]
        for hook in (
            "dw-architecture",
            "dw-learning-rate",
            "dw-train",
            "dw-pad",
            "dw-clear",
            "dw-upload",
            "dw-open-details",
        ):
            assert hook in order, f"Tab never reached {hook}: {visited}"
        assert order.index("dw-train") < order.index("dw-pad") < order.index("dw-upload")
        # Tab leaves the pad: it holds the focus for one press, not a trap.
        assert max(len(run) for run in _runs(visited, "dw-pad")) <= 2, visited
        # Shift+Tab from the pad goes back to what came before it.
        page.locator("canvas.dw-pad, .dw-pad canvas").first.focus()
        page.keyboard.press("Shift+Tab")
        page.wait_for_function("() => !document.activeElement.closest('.dw-pad')", timeout=5_000)
    finally:
        page.context.close()


def _runs(items: list, value) -> list[list]:
    runs, current = [], []
    for item in items:
        if item == value:
            current.append(item)
        elif current:
            runs.append(current)
            current = []
    return runs + ([current] if current else [[]])


CAPTIONS_OVER_PICTURES = """() => [...document.querySelectorAll('.dw-step')].map(step => {
    const caption = step.querySelector('.widget-html-content > div');
    const picture = step.querySelector('img');
    return {text: caption.textContent, bottom: caption.getBoundingClientRect().bottom,
            top: picture.getBoundingClientRect().top};
}).filter(step => step.bottom > step.top + 1)"""


def test_the_digit_read_is_announced_and_what_it_shows_is_named(browser, dashboard_server):
    page = open_dashboard(browser, dashboard_server.url)
    try:
        pad = page.locator("canvas.dw-pad, .dw-pad canvas").first
        name = page.locator(f"#{pad.get_attribute('aria-labelledby')}").inner_text()
        assert name.startswith("Drawing pad: draw one digit")
        draw_stroke(page, SEVEN)
        status = page.get_by_role("status").filter(has_text="Looks like a")
        status.first.wait_for()
        assert "Looks like a 7" in status.first.inner_text()
        # What a drawing shows (its steps, saliency, every layer's maps and filters) has words
        # for a screen reader, and its buttons are as readable as the rest.
        page.click("button.dw-open-layers")
        page.wait_for_selector(".dw-layers .dw-feature-map", state="visible")
        assert axe_violations(page) == []
        # Every picture drew (a view that fails to render shows an error box instead).
        assert page.locator(".jupyter-widgets-error-widget").count() == 0
        assert page.locator(".dw-dashboard img:not([title])").count() == 0
    finally:
        page.context.close()


@pytest.mark.parametrize(
    ("width", "height", "touch"),
    [(390, 844, True), (1366, 768, False), (360, 740, True), (1920, 1080, False)],
)
def test_every_element_fits_the_width(browser, dashboard_server, artifacts, width, height, touch):
    context = new_context(browser, viewport={"width": width, "height": height}, has_touch=touch)
    page = context.new_page()
    try:
        page.goto(dashboard_server.url)
        page.wait_for_selector("button.dw-train:not([disabled])", state="visible")
        # Charts size themselves once their column is laid out: until then they may stick
        # out. Wait (a while at most) for the page to fit; the assertions say what does not.
        with contextlib.suppress(PlaywrightTimeoutError):
            page.wait_for_function(FITS, arg=width, timeout=10_000)
        layout = page.evaluate(OUTSIDE_VIEWPORT)
        assert layout["outside"] == [], layout
        assert layout["scroll_width"] <= width
        pad = page.locator("canvas.dw-pad, .dw-pad canvas").first.bounding_box()
        assert pad["x"] >= 0 and pad["x"] + pad["width"] <= width
        # The drawing's steps: no caption runs over its picture, however narrow the page.
        draw_stroke(page, SEVEN)
        page.get_by_role("status").filter(has_text="Looks like a").first.wait_for()
        overlaps = page.evaluate(CAPTIONS_OVER_PICTURES)
        assert overlaps == [], overlaps
        page.screenshot(path=str(artifacts / f"layout-{width}x{height}.png"), full_page=True)
    finally:
        context.close()
