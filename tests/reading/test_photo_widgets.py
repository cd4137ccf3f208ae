"""A photo through the widgets: the upload reads a number, the view shows a photo's steps,
the pad reads a number written with gaps."""

from __future__ import annotations

import pytest

from digitwidgets.reading.images import decode_image
from digitwidgets.reading.preprocessing import Drawing
from digitwidgets.reading.recognition import Recognizer
from digitwidgets.widgets.drawing_pad import DrawingPad
from digitwidgets.widgets.image_upload import ImageUpload
from digitwidgets.widgets.prediction_view import PredictionView
from tools.drawn_variations import make_varied_drawn_digits
from tools.photos import photo_of


@pytest.fixture(scope="module")
def recognizer():
    from digitwidgets.learning.pretrained import load_pretrained

    return Recognizer(load_pretrained()[0])


def test_an_uploaded_photo_of_one_digit_is_read(recognizer):
    upload = ImageUpload(recognizer)
    upload.recognize_file(photo_of([7], "ruled", seed=3), "seven.jpg")
    assert upload.value.digit == 7 and upload.number is None
    assert upload.message == "seven.jpg: looks like a 7."


def test_an_uploaded_photo_of_a_number_is_read_left_to_right(recognizer):
    upload = ImageUpload(recognizer)
    upload.recognize_file(photo_of([4, 2], "flat", seed=0), "number.jpg")
    assert upload.value.digit is None  # one digit is not guessed
    assert upload.number.text == "4 2"
    assert upload.message == "number.jpg: 2 separate digits, read left to right: 4 2."
    # A single digit afterwards is one digit again.
    upload.recognize_file(photo_of([3], "flat", seed=1), "three.jpg")
    assert upload.value.digit == 3 and upload.number is None


def test_the_view_shows_a_photos_steps_and_hides_them_for_a_drawing(recognizer):
    photo = recognizer.recognize(decode_image(photo_of([5], "squared", seed=2)))
    view = PredictionView(photo)
    assert view._photo_steps.layout.display != "none"
    assert all(image.value for image in view._photo_images)
    drawing = recognizer.recognize(Drawing((((40.0, 40.0), (200.0, 220.0)),), 280, 280, 18))
    view.value = drawing
    assert view._photo_steps.layout.display == "none"


def test_the_pad_reads_a_number_written_with_gaps(recognizer):
    broad = make_varied_drawn_digits(per_class=1, variations=("normal",))
    four, two = broad.drawings[4], broad.drawings[2]
    pad = DrawingPad(recognizer)
    strokes = []
    for drawing, left in ((four, 10), (two, 140)):
        for stroke in drawing.strokes:
            strokes.append([(x * 0.4 + left, y * 0.6 + 40) for x, y in stroke])
    pad.strokes = strokes
    assert "4 2" in pad.message
