"""CameraInput: a "Take a photo" button that opens a phone's camera and hands the photo over.

ipywidgets' ``FileUpload`` has no ``capture`` attribute, so a phone offers its camera only
among other sources. This is a small anywidget: its front end is the few lines of
JavaScript below, shipped with the Python class (no build step, nothing fetched from the
network), and anywidget's own front end is a JupyterLab extension installed with its wheel,
which both JupyterLab and Voila load.
"""

from __future__ import annotations

import anywidget
import ipywidgets as widgets
import traitlets

_ESM = """
function render({ model, el }) {
  const label = document.createElement("label");
  label.className = "dw-camera-button";
  const input = document.createElement("input");
  input.type = "file";
  input.className = "dw-camera-input";
  const icon = document.createElement("i");
  icon.className = "fa fa-camera";  // Font Awesome, as the upload's icon
  icon.setAttribute("aria-hidden", "true");
  const text = document.createElement("span");
  const show = () => {
    input.accept = model.get("accept");
    input.setAttribute("capture", model.get("capture"));
    text.textContent = model.get("description");
  };
  show();
  model.on("change:accept change:capture change:description", show);
  input.addEventListener("change", async () => {
    const file = input.files && input.files[0];
    if (!file) return;
    const content = await file.arrayBuffer();
    model.send({ event: "photo", name: file.name }, undefined, [content]);
    input.value = "";  // the same photo taken again is read again
  });
  label.append(input, icon, text);
  el.append(label);
  return () => model.off(null, show);
}
export default { render };
"""

_CSS = """
.dw-camera-button {
  position: relative;
  display: inline-flex;
  align-items: center;
  box-sizing: border-box;
  height: var(--jp-widgets-inline-height, 28px);
  margin: var(--jp-widgets-margin, 2px);
  padding: 0 12px;
  gap: 6px;
  border: 0;
  background: var(--jp-layout-color2, #eeeeee);
  color: var(--jp-ui-font-color1, rgba(0, 0, 0, 0.8));
  font-size: var(--jp-widgets-font-size, 14px);
  cursor: pointer;
  white-space: nowrap;
  user-select: none;
}
.dw-camera-button:hover { box-shadow: 0 2px 4px rgba(0, 0, 0, 0.25); }
.dw-camera-button:focus-within {
  outline: 2px solid var(--jp-brand-color1, #1976d2);
  outline-offset: 1px;
}
/* The input covers the button, transparent: it keeps its keyboard focus and its label. */
.dw-camera-input {
  position: absolute;
  inset: 0;
  width: 100%;
  height: 100%;
  margin: 0;
  opacity: 0;
  cursor: pointer;
}
"""


class CameraInput(anywidget.AnyWidget):
    """A button that takes a photo: a file input with ``capture``, styled as a button.

    On a phone it opens the camera (``capture="environment"``: the one facing away from
    the user); elsewhere it opens the file picker. The photo's bytes come to Python in a
    message; ``on_photo`` callbacks receive them. The input is inside its label, so the
    button's text is its name for a screen reader, and it is reached with the Tab key.
    """

    _esm = traitlets.Unicode(_ESM).tag(sync=True)
    _css = traitlets.Unicode(_CSS).tag(sync=True)
    description = traitlets.Unicode(
        "Take a photo", help="The button's text, also its name for a screen reader."
    ).tag(sync=True)
    accept = traitlets.Unicode("image/*", help="The file types the input offers.").tag(sync=True)
    capture = traitlets.Unicode(
        "environment", help='Which camera a phone opens: "environment" (rear) or "user".'
    ).tag(sync=True)

    def __init__(self, **kwargs):
        """Build the button; photos taken are handed to ``on_photo`` callbacks."""
        super().__init__(**kwargs)
        self._photo_taken = widgets.CallbackDispatcher()
        self.on_msg(self._on_message)

    def on_photo(self, callback, remove: bool = False) -> None:
        """Call ``callback(content: bytes, name: str)`` with each photo taken.

        Args:
            callback: receives the file's bytes and its name as the browser gave it.
            remove: unregister ``callback`` instead.
        """
        self._photo_taken.register_callback(callback, remove=remove)

    def _on_message(self, widget, content, buffers) -> None:
        if not isinstance(content, dict) or content.get("event") != "photo" or not buffers:
            return
        self._photo_taken(bytes(buffers[0]), str(content.get("name") or "the photo"))
