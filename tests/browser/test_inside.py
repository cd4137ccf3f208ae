"""The layers view and the map of digits in a real page: draw, and every map and neighbour follows.

The page is ``notebooks/inside.ipynb`` next to this file (the components alone with the
pretrained model, the pad and the prediction view; the dashboard does not show them yet).
The tests share one page and use only the components' ``dw-*`` classes; each passes alone and
in any order (each clears the pad or picks the layer it needs first).
"""

from __future__ import annotations

import pytest

from .conftest import ROOT, VoilaServer, draw_stroke, new_context

NOTEBOOK = ROOT / "tests" / "browser" / "notebooks" / "inside.ipynb"
SEVEN = [(0.25, 0.22), (0.75, 0.22), (0.6, 0.45), (0.45, 0.8)]
ONE = [(0.5, 0.15 + 0.07 * i) for i in range(11)]


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium_path):
    server = VoilaServer(NOTEBOOK, tmp_path_factory.mktemp("voila-inside"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(browser, server, artifacts):
    context = new_context(browser, viewport={"width": 1280, "height": 1800})
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector(".dw-layers .dw-layer", state="visible")
    yield page
    page.screenshot(path=str(artifacts / "inside-final.png"), full_page=True)
    context.close()


def shown(page, css_class: str) -> list[str]:
    """Sources of the images of ``css_class`` that hold a picture and are displayed."""
    return page.evaluate(
        """sel => Array.from(document.querySelectorAll(sel))
            .flatMap(e => e.tagName === 'IMG' ? [e] : Array.from(e.querySelectorAll('img')))
            .filter(i => i.offsetParent !== null && i.naturalWidth > 0).map(i => i.src)""",
        f".{css_class}",
    )


def test_the_page_shows_both_views_and_their_hooks(page, artifacts):
    for hook in ("dw-layers", "dw-layer", "dw-feature-map", "dw-filter", "dw-digit-map"):
        assert page.locator(f".{hook}").count() >= 1, f"nothing on the page has class {hook}"
    assert page.locator(".dw-layer").count() == 8
    assert "Train a model first" not in page.inner_text(".dw-layers")
    # The learned kernels of c1 are there before anything is drawn.
    page.wait_for_function("() => document.querySelectorAll('img.dw-filter').length >= 6")
    page.wait_for_selector(".dw-map-figure", state="visible")
    body = page.inner_text("body")
    assert "Traceback" not in body and "Error" not in body
    page.screenshot(path=str(artifacts / "inside-opened.png"), full_page=True)


def test_drawing_fills_every_map_and_places_the_digit(page, artifacts):
    page.click("button.dw-clear")
    page.locator("button.dw-layer", has_text="c1").click()  # c1: six maps
    draw_stroke(page, SEVEN)
    page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() === '7'",
    )
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.dw-feature-map'))
            .filter(i => i.offsetParent !== null && i.naturalWidth > 0).length === 6""",
    )
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.dw-neighbour img'))
            .filter(i => i.naturalWidth > 0).length === 8""",
    )
    assert "Your digit, read as 7" in page.inner_text(".dw-map-point-you")
    assert "your 7 looks most like these" in page.inner_text(".dw-neighbours-title")
    page.screenshot(path=str(artifacts / "inside-seven.png"), full_page=True)


def test_another_drawing_changes_the_maps_and_the_neighbours(page, artifacts):
    page.locator("button.dw-layer", has_text="c1").click()  # a layer drawn as maps
    maps, neighbours = shown(page, "dw-feature-map"), shown(page, "dw-neighbour")
    page.click("button.dw-clear")
    draw_stroke(page, ONE)
    page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() === '1'",
    )
    page.wait_for_function(
        "() => document.querySelector('.dw-map-point-you').textContent.includes('read as 1')",
    )
    # The pictures are images the browser decodes after the text has changed: wait for them.
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.dw-neighbour img'))
            .filter(i => i.naturalWidth > 0).length === 8""",
    )
    assert shown(page, "dw-feature-map") != maps
    assert shown(page, "dw-neighbour") != neighbours
    assert len(shown(page, "dw-neighbour")) == 8


def test_the_strip_navigates_and_a_map_enlarges(page, artifacts):
    if not shown(page, "dw-feature-map"):  # run alone: the maps need a drawing
        draw_stroke(page, SEVEN)
        page.wait_for_function(
            "() => document.querySelector('.dw-prediction').textContent.trim() === '7'"
        )
    page.locator("button.dw-layer", has_text="c3").click()
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.dw-feature-map'))
            .filter(i => i.offsetParent !== null && i.naturalWidth > 0).length === 16""",
    )
    # The title is another widget: its update may reach the page a moment after the maps.
    page.wait_for_function(
        "() => document.querySelector('.dw-layer-title').textContent.includes('c3')",
    )
    assert "Shared scale" in page.inner_text(".dw-layer-title")
    page.locator(".dw-feature-cell").nth(2).click()
    page.wait_for_function(
        "() => document.querySelector('.dw-feature-map-enlarged').textContent.includes('map 3')",
    )
    # c3's maps are 10x10, enlarged to 280 px: pointing at a pixel says its value. The caption,
    # the canvas's size and the figure's display are separate widgets' messages: wait for all.
    page.wait_for_function(
        """() => {
            const r = document.querySelector('.dw-enlarged-pick').getBoundingClientRect();
            return Math.round(r.width) === 280 && Math.round(r.height) === 280;
        }""",
    )
    pick = page.locator(".dw-enlarged-pick")
    pick.hover(position={"x": 5 * 28 + 14, "y": 4 * 28 + 14})
    page.wait_for_function(
        "() => document.querySelector('.dw-enlarged-value').textContent"
        ".startsWith('row 5, column 6: ')"
    )
    page.screenshot(path=str(artifacts / "inside-c3-enlarged.png"), full_page=True)
    # Clicking it explains it: c3 adds up 6 input maps' 25 products each.
    pick.click(position={"x": 5 * 28 + 14, "y": 4 * 28 + 14})
    page.wait_for_function(
        "() => document.querySelector('.dw-explain').textContent.includes('row 5, column 6')"
    )
    page.wait_for_function("() => document.querySelectorAll('.dw-explain-term').length >= 25")
    page.screenshot(path=str(artifacts / "inside-c3-explained.png"), full_page=True)
    page.locator("button.dw-layer", has_text="f5").click()
    page.wait_for_function("() => document.querySelectorAll('.dw-layer-bars rect').length >= 120")


def test_a_blank_pad_clears_the_maps_with_the_prediction_s_message(page, artifacts):
    page.click("button.dw-clear")
    page.wait_for_function(
        """() => document.querySelector('.dw-layers-message').textContent.trim() !== ''
            && document.querySelector('.dw-layers-message').textContent.trim()
               === document.querySelector('.dw-confidence').textContent.trim()""",
    )
    # The map's neighbours follow from the kernel's background worker: wait, bounded.
    for hook in ("dw-feature-map", "dw-neighbour"):
        page.wait_for_function(
            """sel => Array.from(document.querySelectorAll(sel))
                .flatMap(e => e.tagName === 'IMG' ? [e] : Array.from(e.querySelectorAll('img')))
                .every(i => i.offsetParent === null || i.naturalWidth === 0)""",
            arg=f".{hook}",
        )
    assert shown(page, "dw-feature-map") == []
    assert shown(page, "dw-neighbour") == []
