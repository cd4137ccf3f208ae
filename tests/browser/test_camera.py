"""The upload's "Take a photo" button on the Voila page: a camera input a phone opens, reached
with the keyboard, named for a screen reader, beside the upload at a phone's width, and a
photo given to it read on the page.
"""

from __future__ import annotations

import pytest

from tools.photos import photo_of

from .conftest import new_context, open_dashboard
from .test_dashboard import prediction_text

CAMERA_INPUT = ".dw-camera input[type=file]"


@pytest.fixture(scope="module")
def phone(browser, dashboard_server):
    """The dashboard on a phone-sized, touch screen."""
    context = new_context(browser, viewport={"width": 390, "height": 844}, has_touch=True)
    page = context.new_page()
    page.goto(dashboard_server.url)
    page.wait_for_selector(CAMERA_INPUT, state="attached")
    yield page
    context.close()


def test_the_camera_input_asks_for_the_rear_camera(phone):
    camera = phone.locator(CAMERA_INPUT)
    assert camera.count() == 1
    assert camera.get_attribute("capture") == "environment"
    assert camera.get_attribute("accept") == "image/*"
    # Its label is its name: what a screen reader says, and what get_by_label finds.
    assert phone.get_by_label("Take a photo").count() == 1
    assert phone.locator(".dw-camera .dw-camera-button").is_visible()


def test_the_camera_button_is_reached_with_the_keyboard_after_the_upload(phone):
    phone.focus(".dw-upload")
    phone.keyboard.press("Tab")
    focused = phone.evaluate("() => document.activeElement.className")
    assert "dw-camera-input" in focused


def test_both_buttons_fit_a_phone_screen(phone, artifacts):
    for selector in (".dw-upload", ".dw-camera .dw-camera-button"):
        box = phone.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    phone.locator(".dw-image-upload").screenshot(path=str(artifacts / "camera-phone.png"))


def test_a_photo_taken_is_read_on_the_page(browser, dashboard_server, tmp_path, artifacts):
    # A photo of a 4 on ruled paper, as a phone's camera would hand it over.
    (tmp_path / "image.jpg").write_bytes(photo_of([4], "ruled", seed=3))
    page = open_dashboard(browser, dashboard_server.url, width=1366, height=900)
    page.set_input_files(CAMERA_INPUT, str(tmp_path / "image.jpg"))
    page.wait_for_function(
        "() => /image\\.jpg: looks like a 4/.test("
        "document.querySelector('.dw-upload-message').textContent)"
    )
    assert prediction_text(page) == "4"
    page.screenshot(path=str(artifacts / "camera-photo-read.png"), full_page=True)
    page.context.close()
