"""Server-side settings that make Voila's own safeguards work for the dashboard.

``voila.json`` names its subclass, :class:`digitwidgets.server.gate.CrowdGateIdentityProvider`,
which adds the kernel cap's "full" answer; imported by the Voila server, never by a kernel.
"""

from __future__ import annotations

import inspect

from jupyter_server.auth.identity import PasswordIdentityProvider


class XsrfCookieIdentityProvider(PasswordIdentityProvider):
    """Voila's usual token identity provider, which also hands each page its XSRF cookie.

    When a page closes, Voila's script posts ``/voila/api/shutdown/<kernel>`` with the
    ``_xsrf`` cookie's value, and the server refuses the post (403) without it. Standalone
    Voila 0.5 never sets that cookie, so closed pages left their kernels (and a training
    in progress) running until culled. Reading ``xsrf_token`` on page loads sets it; the
    XSRF check itself stays on.
    """

    async def get_user(self, handler):
        """Identify the user as usual, then set the XSRF cookie on plain page loads."""
        user = super().get_user(handler)
        if inspect.isawaitable(user):
            user = await user
        request = handler.request
        upgrade = "upgrade" in request.headers.get("Connection", "").lower()
        if request.method == "GET" and not upgrade:
            # The token's expiry depends on the user, so tornado asks for it first.
            handler.current_user = user
            handler.xsrf_token  # noqa: B018 - reading it is what sets the cookie
        return user
