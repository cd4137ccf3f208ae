"""Turns page loads away at the door when the dashboard is full, before Voila picks a kernel.

Standalone Voila hands a page load a kernel from its preheated pool without starting one, so
the cap in :class:`~digitwidgets.server.kernels.CappedKernelManager` alone would let that
visitor wait for the pool's next kernel until someone leaves. The identity provider is the
one hook Voila calls on every request before its page handler runs, so the check sits here.
"""

from __future__ import annotations

from digitwidgets.server.security import XsrfCookieIdentityProvider

from .full_page import send_full_page
from .kernels import CappedKernelManager, is_page_handler


class CrowdGateIdentityProvider(XsrfCookieIdentityProvider):
    """The XSRF-cookie identity provider that also answers "full" to page loads beyond the cap.

    Only a logged-in visitor's page load (a GET of Voila's page handler) is checked; the
    websocket, the widgets' traffic and static files of pages already open pass as before.
    """

    async def get_user(self, handler):
        """Identify the user as usual; send the full page if no kernel is left for them."""
        user = await super().get_user(handler)
        if user is None or handler.request.method != "GET" or not is_page_handler(handler):
            return user
        manager = handler.settings.get("kernel_manager")
        if isinstance(manager, CappedKernelManager) and not manager.admits_visitor():
            manager.log.warning(
                "digitwidgets: dashboard full (%d kernels, cap %d): page load turned away",
                manager.occupied(),
                manager.kernel_cap,
            )
            send_full_page(handler, manager.visitor_count(), manager.retry_after)
        return user
