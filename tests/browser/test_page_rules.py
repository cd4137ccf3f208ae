"""Rules every chart, table and line of text on the page keeps, checked in the real page.

After each main action (a run, a Stop, drawing and the layers view, the learning-rate finder,
evaluation, comparing runs, a sweep) the page is looked at 390, 1366 and 1920 px wide (one
page, its viewport resized: no reload) by JavaScript in the page:

- no axis with repeated or overlapping tick labels (bqplot draws ticks as ``g.tick text``);
- percent ticks within 0-100 %; an axis of epochs or runs counts in whole numbers;
- no button, tab, label or chart title whose text is cut off (wider than its box, which
  hides the rest), no tick label cut at its figure's edge (or a box around it that hides
  what overflows);
- nothing runs off the side of the screen unless it sits in a box that scrolls sideways and
  says so (every widget box scrolls what overflows it, without a cue on a phone).

Every broken rule is collected, with the action and the width, and reported together.
Runs are tiny (one epoch on the embedded sample).
"""

from __future__ import annotations

import contextlib

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import ROOT, VoilaServer, draw_stroke, open_dashboard, set_epochs, show_tab

WIDTHS = ((390, 844), (1366, 768), (1920, 1080))
RUN_TIMEOUT_MS = 180_000
SEVEN = [(0.25, 0.22), (0.75, 0.22), (0.6, 0.45), (0.45, 0.8)]

# Returns one sentence per broken rule; each names the component (its dw-* classes).
RULES_JS = r"""
() => {
  const broken = [];
  const root = document.querySelector('.dw-dashboard');
  if (!root) { return ['no dashboard on the page']; }
  const shown = el => {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) { return false; }
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.display === 'none' || style.visibility === 'hidden') { return false; }
    }
    return true;
  };
  const owner = el => {
    for (let e = el; e && e !== root; e = e.parentElement) {
      const names = [...(e.classList || [])].filter(c => c.startsWith('dw-'));
      if (names.length) { return names.join('.'); }
    }
    return el.tagName.toLowerCase();
  };
  // Axes.
  root.querySelectorAll('g.axis').forEach(axis => {
    if (!shown(axis)) { return; }
    const ticks = [...axis.querySelectorAll('g.tick text')]
      .filter(t => shown(t) && t.textContent.trim() !== '');
    const texts = ticks.map(t => t.textContent.trim());
    const label = (axis.querySelector('.axislabel') || {}).textContent || '';
    const where = `${owner(axis)} axis "${label}"`;
    const repeated = texts.filter((t, i) => texts.indexOf(t) !== i);
    if (repeated.length) {
      broken.push(`${where}: repeated tick labels ${[...new Set(repeated)].join(', ')}`);
    }
    const boxes = ticks.map(t => t.getBoundingClientRect());
    overlap: for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        if (a.left < b.right - 1 && b.left < a.right - 1 &&
            a.top < b.bottom - 1 && b.top < a.bottom - 1) {
          broken.push(`${where}: tick labels "${texts[i]}" and "${texts[j]}" overlap`);
          break overlap;
        }
      }
    }
    const outside = texts.filter(t => t.endsWith('%'))
      .filter(t => !(parseFloat(t) >= 0 && parseFloat(t) <= 100));
    if (outside.length) {
      broken.push(`${where}: percent ticks outside 0-100%: ${outside.join(' ')}`);
    }
    if (/epoch|\brun/i.test(label) && texts.some(t => /\d[.]\d/.test(t))) {
      broken.push(`${where}: counts whole ${label} with decimals: ${texts.join(' ')}`);
    }
  });
  // A tick label beyond its figure's edges, or beyond a box around it that hides what
  // overflows it, is cut there (the "1" at the end of a rate axis).
  root.querySelectorAll('.bqplot').forEach(figure => {
    const svg = figure.querySelector('svg');
    if (!svg || !shown(svg)) { return; }
    const box = svg.getBoundingClientRect();
    const outer = {left: box.left, right: box.right, top: box.top, bottom: box.bottom};
    for (let e = figure.parentElement; e && e !== root.parentElement; e = e.parentElement) {
      if (getComputedStyle(e).overflowX === 'visible') { continue; }
      const clip = e.getBoundingClientRect();
      outer.left = Math.max(outer.left, clip.left);
      outer.right = Math.min(outer.right, clip.right);
    }
    const cut = [...figure.querySelectorAll('g.axis g.tick text')]
      .filter(t => shown(t) && t.textContent.trim() !== '')
      .filter(t => {
        const box = t.getBoundingClientRect();
        return box.left < outer.left - 1 || box.right > outer.right + 1 ||
          box.top < outer.top - 1 || box.bottom > outer.bottom + 1;
      })
      .map(t => `"${t.textContent.trim()}"`);
    if (cut.length) {
      broken.push(`${owner(figure)}: tick labels cut at the figure's edge: ${cut.join(' ')}`);
    }
  });
  // A chart's title wider than the chart is cut at its edges.
  root.querySelectorAll('.bqplot').forEach(figure => {
    const svg = figure.querySelector('svg');
    const title = figure.querySelector('text.mainheading');
    if (!svg || !title || !shown(title) || title.textContent.trim() === '') { return; }
    const outer = svg.getBoundingClientRect(), box = title.getBoundingClientRect();
    if (box.left < outer.left - 1 || box.right > outer.right + 1) {
      broken.push(`${owner(figure)}: title cut off: "${title.textContent.trim()}"`);
    }
  });
  // Text cut off: wider than its box while the box hides what does not fit.
  const texty = 'button, .lm-TabBar-tabLabel, .widget-label, label, .widget-html-content';
  root.querySelectorAll(texty).forEach(el => {
    if (!shown(el) || el.textContent.trim() === '') { return; }
    const style = getComputedStyle(el);
    const hides = style.textOverflow === 'ellipsis' ||
      ['hidden', 'clip'].includes(style.overflowX);
    if (hides && el.scrollWidth > el.clientWidth + 1) {
      broken.push(`${owner(el)}: text cut off: "${el.textContent.trim().slice(0, 40)}"`);
    }
  });
  // Off the side of the screen, outside any box that scrolls sideways and says so. Every
  // widget box scrolls what overflows it, with no cue on a phone: only a box whose own text
  // (its ::before) says it scrolls sideways counts.
  const width = document.documentElement.clientWidth;
  const scrolls = el => {
    for (let e = el.parentElement; e && e !== root.parentElement; e = e.parentElement) {
      const x = getComputedStyle(e).overflowX;
      const cue = getComputedStyle(e, '::before').content || '';
      if ((x === 'auto' || x === 'scroll') && /sideways/i.test(cue)) { return true; }
    }
    return false;
  };
  const off = new Map();
  root.querySelectorAll('table, svg, img, canvas, button, .widget-html-content')
    .forEach(el => {
      if (!shown(el) || el.closest('.dw-kernel-gone')) { return; }
      // bqplot's WebGL layer: empty for these SVG charts, and resized only when drawn on.
      if (el.tagName === 'CANVAS' && el.closest('.bqplot')) { return; }
      const box = el.getBoundingClientRect();
      if (box.right > width + 1 && !scrolls(el) && !off.has(owner(el))) {
        off.set(owner(el), `${el.tagName.toLowerCase()} to ${Math.round(box.right)} px`);
      }
    });
  off.forEach((what, name) => broken.push(
    `${name}: runs off the side of the screen (${what}; the screen is ${width} px)`));
  return broken;
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium_path):
    server = VoilaServer(ROOT / "notebooks" / "dashboard.ipynb", tmp_path_factory.mktemp("rules"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(browser, server, artifacts):
    page = open_dashboard(browser, server.url, width=1366, height=768)
    yield page
    page.context.close()


# Waits in this file poll on a timer, not on animation frames: a headless Chromium now and
# then stops drawing frames for a page, and a wait on frames would then hang (once, in CI, until
# pytest-timeout ended the test 600 s later).
POLL_MS = 100
FRAME_TIMEOUT_MS = 15_000
TWO_FRAMES_JS = """() => {
  window.dwFramesDrawn = false;
  requestAnimationFrame(() => requestAnimationFrame(() => { window.dwFramesDrawn = true; }));
}"""


def settle(page) -> None:
    """Wait until the page has laid itself out again (two frames after a resize).

    A page that draws no frame is brought to the front (which other projects found makes
    Chromium draw it again) and waited for once more; one that still draws none fails the
    test, saying so.
    """
    for attempt in range(2):
        page.evaluate(TWO_FRAMES_JS)
        try:
            page.wait_for_function(
                "() => window.dwFramesDrawn", polling=POLL_MS, timeout=FRAME_TIMEOUT_MS
            )
            return
        except PlaywrightTimeoutError:
            if attempt:
                raise AssertionError(
                    f"the page drew no frame in {FRAME_TIMEOUT_MS / 1000:.0f} s, twice, "
                    "the second time after it was brought to the front"
                ) from None
            page.bring_to_front()


# bqplot lays a figure out again only while it is on screen (an IntersectionObserver), 300 ms
# after its size changed: each figure is brought into view and its plot area waited for to
# fit inside it again (a figure laid out for a wider screen overflows a narrower one).
FITS_JS = """index => {
  const figure = [...document.querySelectorAll('.dw-dashboard .bqplot')][index];
  const svg = figure && figure.querySelector('svg');
  const plot = svg && svg.querySelector('rect.plotarea_background');
  if (!plot || svg.getBoundingClientRect().width === 0) { return true; }
  return plot.getBoundingClientRect().right <= svg.getBoundingClientRect().right + 1;
}"""


def laid_out_again(page) -> None:
    """Bring each chart into view in turn and wait until bqplot has fitted it to its box."""
    count = page.locator(".dw-dashboard .bqplot").count()
    for index in range(count):
        page.evaluate(
            "index => { const figure = [...document.querySelectorAll("
            "'.dw-dashboard .bqplot')][index]; if (figure) { figure.scrollIntoView("
            "{block: 'center'}); } }",
            index,
        )
        # The rules below say what stays cut where it does not fit in time.
        with contextlib.suppress(PlaywrightTimeoutError):
            page.wait_for_function(FITS_JS, arg=index, polling=POLL_MS, timeout=5_000)
    page.evaluate("() => window.scrollTo(0, 0)")


def broken_rules(page, action: str, artifacts) -> list[str]:
    """The rules the page breaks after ``action``, at each width, as sentences."""
    found = []
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        settle(page)
        # bqplot redraws a resized figure when the browser reports the new size: wait for
        # every figure to be as wide as the box it sits in, or narrower.
        page.wait_for_function(
            """() => [...document.querySelectorAll('.dw-dashboard .bqplot')].every(figure => {
                const svg = figure.querySelector('svg');
                return !svg || svg.getBoundingClientRect().width <=
                    figure.getBoundingClientRect().width + 1;
            })""",
            polling=POLL_MS,
            timeout=10_000,
        )
        laid_out_again(page)
        settle(page)
        for sentence in page.evaluate(RULES_JS):
            found.append(f"after {action} at {width} px: {sentence}")
        page.screenshot(path=str(artifacts / f"rules-{action.replace(' ', '-')}-{width}.png"))
    page.set_viewport_size({"width": 1366, "height": 768})
    settle(page)
    return found


def wait_for(page, selector: str, pattern: str, timeout: int = RUN_TIMEOUT_MS) -> None:
    """Wait until the text of ``selector`` matches the regular expression ``pattern``."""
    page.wait_for_function(
        "([selector, pattern]) => new RegExp(pattern).test("
        "(document.querySelector(selector) || {}).textContent || '')",
        arg=[selector, pattern],
        polling=POLL_MS,
        timeout=timeout,
    )


def test_every_chart_table_and_label_keeps_the_rules_after_each_action(page, artifacts):
    broken = broken_rules(page, "opening", artifacts)

    set_epochs(page, 1)
    page.click("button.dw-train")
    wait_for(page, ".dw-status", "^Finished")
    broken += broken_rules(page, "a run", artifacts)

    set_epochs(page, 3)
    page.click("button.dw-train")
    wait_for(page, ".dw-progress-text", "^Epoch 2/3")
    page.click("button.dw-stop")
    wait_for(page, ".dw-status", "^Stopped")
    broken += broken_rules(page, "a Stop", artifacts)

    draw_stroke(page, SEVEN)
    wait_for(page, ".dw-prediction", r"\d")
    page.click("button.dw-open-layers")
    page.wait_for_selector(".dw-layers .dw-feature-map", state="visible")
    broken += broken_rules(page, "the layers view", artifacts)

    page.click("button.dw-lr-finder")
    page.locator("button.dw-lr-suggestion").wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    broken += broken_rules(page, "the learning-rate finder", artifacts)

    show_tab(page, "Evaluate")
    wait_for(page, ".dw-evaluation-status", "Test accuracy")
    broken += broken_rules(page, "evaluate", artifacts)

    show_tab(page, "Compare runs")
    page.wait_for_function("() => document.querySelectorAll('.dw-run-row').length >= 2")
    for checkbox in page.locator(".dw-run-row input[type=checkbox]").all():
        checkbox.check()
    page.wait_for_selector(".dw-compare-chart", state="visible")
    broken += broken_rules(page, "compare", artifacts)

    set_epochs(page, 1)
    show_tab(page, "Sweeps")
    values = page.locator(".dw-sweep-values input")
    values.fill("0.001, 0.01")
    values.press("Enter")
    wait_for(page, ".dw-sweep-plan", "2 runs of 1")
    page.click("button.dw-sweep")
    wait_for(page, ".dw-sweep-progress", "^All 2 runs done")
    broken += broken_rules(page, "a sweep", artifacts)

    assert not broken, "\n".join(broken)
