"""ImageUpload: recognize a digit in a picture file instead of a drawing."""

from __future__ import annotations

import threading

import ipywidgets as widgets
import traitlets

from digitwidgets.reading.images import ImageError, decode_image
from digitwidgets.reading.outcome import Outcome
from digitwidgets.reading.recognition import Recognition, Recognizer, preprocess, read
from digitwidgets.reading.several import Number, read_digits
from digitwidgets.widgets.camera_input import CameraInput
from digitwidgets.widgets.support import message_html

HINT = "Or upload a picture of one digit (PNG, JPEG, GIF or BMP), or photograph one on paper."


class ImageUpload(widgets.VBox):
    """Upload an image of a digit, or take a photo of one; ``value`` is its recognition.

    Two buttons give a picture: the upload (any image file) and "Take a photo" (a phone's
    camera, ``CameraInput``); either is read the same way. A file that cannot be read is
    explained in the message line and ``value`` keeps the previous recognition. When
    ``model`` changes (link it to the owner of the current model), the last readable
    upload is read again.
    """

    value = traitlets.Instance(
        Recognition,
        allow_none=True,
        read_only=True,
        help="The recognition of the last readable upload, or None.",
    )
    model = traitlets.Any(
        None, allow_none=True, help="The Keras model that reads the upload, or None."
    )
    message = traitlets.Unicode(HINT, read_only=True, help="What the upload tells the user.")
    number = traitlets.Instance(
        Number,
        allow_none=True,
        read_only=True,
        help="Every digit of the last upload read left to right when it holds several, or None.",
    )

    def __init__(self, recognizer: Recognizer | None = None, **kwargs):
        """Build the upload button and its message line.

        Given a ``recognizer``, the upload reads with its model, following it (a dlink).
        """
        super().__init__(**kwargs)
        self._recognizing = threading.RLock()  # the kernel's thread and the event worker
        self._preprocessed = None  # the last readable upload, as the model reads it
        self._image = None  # and as decoded, to read several digits in it one by one
        self._name = ""
        self._upload = widgets.FileUpload(
            accept="image/*", multiple=False, description="Upload image"
        )
        self._upload.add_class("dw-upload")
        self._upload.observe(self._on_upload, "value")
        self._camera = CameraInput()
        self._camera.add_class("dw-camera")
        self._camera.on_photo(self.recognize_file)
        # Side by side; on a narrow phone the camera button goes under the upload.
        sources = widgets.HBox(
            [self._upload, self._camera],
            layout=widgets.Layout(flex_flow="row wrap", max_width="100%", grid_gap="4px"),
        )
        sources.add_class("dw-upload-sources")
        # HTML rather than Label: a long message wraps instead of being cut off.
        self._message = widgets.HTML(layout=widgets.Layout(width="280px", max_width="100%"))
        self._message.add_class("dw-upload-message")
        self._message.add_class("dw-live")  # a live region: a screen reader announces it
        traitlets.dlink((self, "message"), (self._message, "value"), message_html)
        self.children = [sources, self._message]
        self.add_class("dw-image-upload")
        if recognizer is not None:
            traitlets.dlink((recognizer, "model"), (self, "model"))

    def recognize_file(self, content: bytes, name: str = "the file") -> None:
        """Decode and recognize one file's bytes, as an upload does."""
        try:
            image = decode_image(content)
        except ImageError as error:
            self.set_trait("message", f"{name}: {error}")
            return
        with self._recognizing:
            self._preprocessed = preprocess(image)
            self._image = image
            self._name = name
            self._recognize()

    def recognize(self) -> None:
        """Read the last readable upload again (its preprocessed image: the same input)."""
        with self._recognizing:
            self._recognize()

    @traitlets.observe("model")
    def _on_model_change(self, change) -> None:
        # Whichever thread set it (the Trainer's event worker each epoch); only sets traits.
        self.recognize()

    def _recognize(self) -> None:
        if self._preprocessed is None:
            return
        recognition = read(self.model, self._preprocessed)
        several = self._preprocessed.outcome is Outcome.SEVERAL and self.model is not None
        # A photo of a number: each digit read, left to right (the single reading says how many).
        self.set_trait("number", read_digits(self.model, self._image) if several else None)
        self.set_trait("value", recognition)
        if recognition.ok:
            self.set_trait("message", f"{self._name}: looks like a {recognition.digit}.")
        elif self.number is not None:
            count, text = len(self.number.digits), self.number.text
            self.set_trait(
                "message", f"{self._name}: {count} separate digits, read left to right: {text}."
            )
        else:
            self.set_trait("message", f"{self._name}: {recognition.message}")

    def _on_upload(self, change) -> None:
        for upload in change["new"]:
            self.recognize_file(bytes(upload["content"]), upload.get("name") or "the file")
