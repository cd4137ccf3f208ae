"""ImageUpload: recognize a digit in a picture file instead of a drawing."""

from __future__ import annotations

import threading

import ipywidgets as widgets
import traitlets

from digitwidgets.reading.images import ImageError, decode_image
from digitwidgets.reading.recognition import Recognition, Recognizer
from digitwidgets.widgets.support import message_html

HINT = "Or upload a picture of one digit (PNG, JPEG, GIF or BMP)."


class ImageUpload(widgets.VBox):
    """Upload an image of a digit; ``value`` is its recognition.

    A file that cannot be read is explained in the message line and ``value`` keeps
    the previous recognition.
    """

    value = traitlets.Instance(
        Recognition,
        allow_none=True,
        read_only=True,
        help="The recognition of the last readable upload, or None.",
    )
    recognizer = traitlets.Instance(Recognizer, help="Recognizes the uploaded digit.")
    message = traitlets.Unicode(HINT, read_only=True, help="What the upload tells the user.")

    def __init__(self, recognizer: Recognizer | None = None, **kwargs):
        """Build the upload button and its message line."""
        super().__init__(**kwargs)
        self._recognizing = threading.RLock()  # the kernel's thread and the event worker
        if recognizer is not None:
            self.recognizer = recognizer
        self._image = None
        self._upload = widgets.FileUpload(
            accept="image/*", multiple=False, description="Upload image"
        )
        self._upload.add_class("dw-upload")
        self._upload.observe(self._on_upload, "value")
        # HTML rather than Label: a long message wraps instead of being cut off.
        self._message = widgets.HTML(layout=widgets.Layout(width="280px", max_width="100%"))
        self._message.add_class("dw-upload-message")
        self._message.add_class("dw-live")  # a live region: a screen reader announces it
        traitlets.dlink((self, "message"), (self._message, "value"), message_html)
        self.children = [self._upload, self._message]
        self.add_class("dw-image-upload")

    @traitlets.default("recognizer")
    def _default_recognizer(self) -> Recognizer:
        return Recognizer()

    def recognize_file(self, content: bytes, name: str = "the file") -> None:
        """Decode and recognize one file's bytes, as an upload does."""
        try:
            image = decode_image(content)
        except ImageError as error:
            self.set_trait("message", f"{name}: {error}")
            return
        self._image = image
        self._name = name
        self.recognize()

    def recognize(self) -> None:
        """Recognize the last readable upload again (e.g. with a new model)."""
        with self._recognizing:
            self._recognize()

    def _recognize(self) -> None:
        if self._image is None:
            return
        recognition = self.recognizer.recognize(self._image)
        self.set_trait("value", recognition)
        if recognition.ok:
            self.set_trait("message", f"{self._name}: looks like a {recognition.digit}.")
        else:
            self.set_trait("message", f"{self._name}: {recognition.message}")

    def _on_upload(self, change) -> None:
        for upload in change["new"]:
            self.recognize_file(bytes(upload["content"]), upload.get("name") or "the file")
