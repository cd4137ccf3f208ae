"""Strange files uploaded to ImageUpload: a clear message, the last recognition kept, and
a good upload afterwards still works.

Decoding each kind of file on its own is tested in test_images.py; here every file goes
through the widget, as a visitor's upload does.
"""

from __future__ import annotations

import html
import io

import numpy as np
import pytest
from PIL import Image

from digitwidgets.reading.images import MAX_IMAGE_PIXELS
from digitwidgets.reading.recognition import Recognizer
from digitwidgets.widgets.image_upload import ImageUpload
from tests.support import png_declaring


@pytest.fixture(scope="module")
def recognizer():
    """The pretrained LeNet-5 shipped with the package, so a good upload reads right."""
    from digitwidgets.learning.pretrained import load_pretrained

    return Recognizer(load_pretrained()[0])


def encode(picture: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def paper(digit: np.ndarray, side: int = 140) -> Image.Image:
    """A real MNIST digit as dark ink on white paper, upscaled like a photo of a note."""
    return Image.fromarray(255 - digit).resize((side, side), Image.BICUBIC)


def refused_files(digit_images) -> dict[str, tuple[bytes, str]]:
    """Name -> (content, words the message must contain) for every file that must be refused."""
    good_png = encode(paper(digit_images[2]), "PNG")
    svg = (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="28" '
        b'height="28"><path d="M14 4 L14 24" stroke="black" stroke-width="3"/></svg>'
    )
    return {
        "notes.png": (b"Shopping list: milk, eggs, a pen that works.\n" * 20, "not a PNG"),
        "truncated.png": (good_png[: len(good_png) // 2], "damaged or incomplete"),
        "empty.png": (b"", "empty"),
        # Only the size is looked at: a 50 MB file of zeros is as good as a real one.
        "huge.png": (bytes(50 * 2**20), "50.0 MB; the limit is 10.0 MB"),
        "bomb.png": (png_declaring(20_000, 20_000), "too many pixels"),
        "drawing.svg": (svg, "not a PNG"),
    }


def test_each_refused_file_is_explained_and_nothing_else_changes(recognizer, digit_images):
    widget = ImageUpload(recognizer)
    widget.recognize_file(encode(paper(digit_images[3]), "PNG"), "three.png")
    before = widget.value
    assert before.digit == 3
    for name, (content, words) in refused_files(digit_images).items():
        widget.recognize_file(content, name)
        assert widget.message.startswith(f"{name}: "), widget.message
        assert words in widget.message, widget.message
        assert html.escape(widget.message) in widget.children[1].value, "not shown on the page"
        assert widget.value is before, f"{name} changed the recognition"
        assert "Traceback" not in widget.message and "Error" not in widget.message
    # The widget still works: a good file is read and replaces the old recognition.
    widget.recognize_file(encode(paper(digit_images[8]), "PNG"), "eight.png")
    assert widget.value.digit == 8
    assert widget.message == "eight.png: looks like a 8."
    # Recognizing again (as a new model does) uses the good file, not a refused one.
    widget.recognize()
    assert widget.value.digit == 8


def test_a_bomb_is_refused_before_pillow_decodes_any_pixel(recognizer, monkeypatch):
    from PIL import ImageFile

    def no_decoding(self):
        raise AssertionError("Pillow started decoding the bomb")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    widget = ImageUpload(recognizer)
    widget.recognize_file(png_declaring(20_000, 20_000), "bomb.png")
    assert "too many pixels" in widget.message
    # Pillow's own limit is set explicitly, so no other Pillow path accepts more pixels.
    assert Image.MAX_IMAGE_PIXELS == MAX_IMAGE_PIXELS


def animated_gif(first: np.ndarray, second: np.ndarray) -> bytes:
    frames = [paper(first).convert("P"), paper(second).convert("P")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=200)
    return buffer.getvalue()


def sixteen_bit_grey(digit: np.ndarray) -> bytes:
    wide = np.asarray(paper(digit), dtype=np.uint16) * 257
    return encode(Image.fromarray(wide), "PNG")


def cmyk_jpeg(digit: np.ndarray) -> bytes:
    return encode(paper(digit).convert("CMYK"), "JPEG", quality=95)


@pytest.mark.parametrize(
    "name, make, digit",
    [
        ("animated.gif", lambda d: animated_gif(d[5], d[0]), 5),
        ("deep.png", lambda d: sixteen_bit_grey(d[6]), 6),
        ("print.jpg", lambda d: cmyk_jpeg(d[4]), 4),
    ],
)
def test_unusual_but_real_images_are_read(recognizer, digit_images, name, make, digit):
    widget = ImageUpload(recognizer)
    widget.recognize_file(make(digit_images), name)
    assert widget.value.digit == digit, widget.message
    assert widget.message == f"{name}: looks like a {digit}."


def test_a_blank_white_image_says_nothing_is_drawn_and_a_digit_after_it_works(
    recognizer, digit_images
):
    widget = ImageUpload(recognizer)
    widget.recognize_file(encode(Image.new("RGB", (200, 200), "white"), "PNG"), "blank.png")
    assert not widget.value.ok
    assert widget.message.startswith("blank.png: ")
    assert "nothing" in widget.message.lower()
    widget.recognize_file(encode(paper(digit_images[7]), "PNG"), "seven.png")
    assert widget.value.digit == 7


def test_a_file_name_is_shown_as_text_not_markup(recognizer):
    widget = ImageUpload(recognizer)
    name = '<img src=x onerror="alert(1)">.png'
    widget.recognize_file(b"", name)
    assert name in widget.message
    assert "<img" not in widget.children[1].value
