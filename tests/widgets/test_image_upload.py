"""ImageUpload: a real digit picture is recognized; unreadable files are explained."""

from __future__ import annotations

import html
import io
import re
from datetime import datetime, timezone

import ipywidgets as widgets
import pytest
from PIL import Image

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.reading.recognition import Recognizer
from digitwidgets.widgets.image_upload import HINT, ImageUpload


@pytest.fixture(scope="module")
def recognizer():
    """A recognizer with an untrained LeNet-5: enough to prove the upload reaches the model."""
    from digitwidgets.learning.model import build_lenet5

    return Recognizer(build_lenet5(Hyperparameters()))


def _png(image) -> bytes:
    buffer = io.BytesIO()
    # Dark ink on white, as a photo of paper would be.
    Image.fromarray(255 - image).resize((140, 140)).save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(widget, content, name="digit.png"):
    upload = widget.children[0].children[0]
    upload.value = (
        {
            "name": name,
            "type": "image/png",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": datetime(2024, 1, 1, tzinfo=timezone.utc),
        },
    )


def test_an_uploaded_digit_is_recognized(recognizer, digit_images):
    widget = ImageUpload(recognizer)
    assert widget.message == HINT and widget.value is None
    _upload(widget, _png(digit_images[4]))
    assert widget.value is not None and widget.value.ok
    assert widget.value.probabilities.shape == (10,)
    assert widget.value.preprocessed.inverted
    assert widget.message == f"digit.png: looks like a {widget.value.digit}."


def test_unreadable_files_are_explained_and_value_is_kept(recognizer, digit_images):
    widget = ImageUpload(recognizer)
    _upload(widget, _png(digit_images[2]))
    before = widget.value
    _upload(widget, b"not an image at all", name="notes.txt")
    assert widget.value is before
    assert widget.message.startswith("notes.txt: This file is not a PNG")
    # Shown as wrapping HTML, escaped: a file name cannot inject markup.
    assert html.unescape(re.sub(r"<[^>]*>", "", widget.children[1].value)) == widget.message
    _upload(widget, _png(digit_images[2])[:60], name="broken.png")
    assert widget.value is before
    assert "broken.png" in widget.message


def test_without_a_model_it_says_so_and_a_model_reads_the_upload_again(recognizer, digit_images):
    widget = ImageUpload()
    _upload(widget, _png(digit_images[5]))
    before = widget.value
    assert not before.ok
    assert "Train a model first" in widget.message
    widget.model = recognizer.model
    # The same input, already preprocessed, read by the new model.
    assert widget.value.ok and widget.value.preprocessed is before.preprocessed
    assert widget.message == f"digit.png: looks like a {widget.value.digit}."


def test_an_upload_follows_the_model_of_the_recognizer_it_was_given(recognizer):
    given = Recognizer()
    widget = ImageUpload(given)
    assert widget.model is None
    given.model = recognizer.model
    assert widget.model is recognizer.model


def test_the_hint_is_shown_whole_and_wraps():
    widget = ImageUpload()
    shown = widget.children[1]
    assert isinstance(shown, widgets.HTML)  # a Label would cut the line off
    assert HINT in html.unescape(shown.value)
    assert shown.layout.width == "280px"


def test_a_file_name_with_markup_is_escaped():
    widget = ImageUpload()
    _upload(widget, b"no image", name="<b>x</b>.png")
    assert "<b>" not in widget.children[1].value and "&lt;b&gt;" in widget.children[1].value


def test_css_classes():
    widget = ImageUpload()
    upload, camera = widget.children[0].children
    assert "dw-upload" in upload._dom_classes and upload.accept == "image/*"
    assert "dw-camera" in camera._dom_classes
    assert "dw-upload-message" in widget.children[1]._dom_classes


def _take_photo(widget, content, name="image.jpg"):
    # As the browser sends it: a custom message with the photo's bytes as its buffer.
    camera = widget.children[0].children[1]
    camera._handle_custom_msg({"event": "photo", "name": name}, [memoryview(content)])


def test_a_photo_taken_is_read_as_an_upload_is(recognizer, digit_images):
    widget, uploaded = ImageUpload(recognizer), ImageUpload(recognizer)
    _take_photo(widget, _png(digit_images[4]), name="IMG_0001.jpg")
    _upload(uploaded, _png(digit_images[4]))
    assert widget.value.ok and widget.value.digit == uploaded.value.digit
    assert (widget.value.probabilities == uploaded.value.probabilities).all()
    assert widget.message == f"IMG_0001.jpg: looks like a {widget.value.digit}."
    before = widget.value
    _take_photo(widget, b"not a photo", name="IMG_0002.jpg")
    assert widget.value is before and widget.message.startswith("IMG_0002.jpg: This file is not")


def test_the_camera_button_asks_for_the_rear_camera_and_ignores_other_messages():
    widget = ImageUpload()
    camera = widget.children[0].children[1]
    assert camera.capture == "environment" and camera.accept == "image/*"
    assert camera.description == "Take a photo"
    assert "wrap" in widget.children[0].layout.flex_flow
    camera._handle_custom_msg({"event": "other"}, [memoryview(b"x")])
    camera._handle_custom_msg({"event": "photo", "name": "a.jpg"}, [])
    assert widget.value is None and widget.message == HINT
