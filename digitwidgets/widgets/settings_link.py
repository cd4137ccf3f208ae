"""SettingsLink: the link to the current settings, and what a link's bad settings were."""

from __future__ import annotations

import html

import ipywidgets as widgets
import traitlets

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.settings_query import parse_settings_query, settings_query
from digitwidgets.widgets.support import error_html


class SettingsLink(widgets.VBox):
    """A "Link to these settings" that opens this page with ``value``, ready to copy.

    The link holds only the settings that differ from the defaults. Its address is relative
    ("?optimizer=sgd"), so the browser completes it with the page's own address, whatever
    server or proxy serves it. ``open_query(query)`` reads a page's query string into
    ``value`` and names in ``message`` what it ignored.
    """

    value = traitlets.Instance(Hyperparameters, help="The settings the link opens with.")
    query = traitlets.Unicode(
        "", read_only=True, help='The query string of ``value``: "optimizer=sgd" or "".'
    )
    message = traitlets.Unicode(
        "", read_only=True, help="What the last opened link asked for that was ignored, or ''."
    )

    def __init__(self, value: Hyperparameters | None = None, **kwargs):
        """Show the link for ``value`` (default: the defaults)."""
        super().__init__(**kwargs)
        self._link = widgets.HTML("")
        self._link.add_class("dw-share-link")
        self._message = widgets.HTML("")
        self._message.add_class("dw-link-message")
        traitlets.dlink((self, "query"), (self._link, "value"), _link_html)
        traitlets.dlink((self, "message"), (self._message, "value"), error_html)
        self.value = value if value is not None else Hyperparameters()
        self.set_trait("query", settings_query(self.value))
        self.children = [self._link, self._message]
        self.add_class("dw-settings-link")

    @traitlets.default("value")
    def _default_value(self) -> Hyperparameters:
        return Hyperparameters()

    @traitlets.observe("value")
    def _on_value_change(self, change) -> None:
        self.set_trait("query", settings_query(change["new"]))

    def open_query(self, query: str) -> None:
        """Take the settings a page's query string asks for; the rest keep their defaults."""
        link = parse_settings_query(query)
        self.value = link.hyperparameters
        self.set_trait("message", link.message)


def _link_html(query: str) -> str:
    if not query:
        return (
            "<b>Link to these settings:</b> the page's own address "
            "<span style='color:#555'>(every setting is at its default)</span>"
        )
    href = html.escape(f"?{query}")
    return (
        f"<b>Link to these settings:</b> <a href='{href}' target='_blank' rel='noopener' "
        f"style='word-break: break-all'>{html.escape(query.replace('&', ' & '))}</a> "
        "<span style='color:#555'>(copy it with the right mouse button, or open it)</span>"
    )
