"""The small page a visitor gets instead of a kernel when the dashboard is full (HTTP 503)."""

from __future__ import annotations

from html import escape

from tornado.web import Finish

FULL_STATUS = 503

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The dashboard is full</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 0; min-height: 100vh; display: flex;
         align-items: center; justify-content: center; background: #f5f5f5; color: #212121; }}
  main {{ max-width: 32rem; padding: 2rem; background: #fff; border-radius: 8px;
         box-shadow: 0 1px 4px rgba(0, 0, 0, 0.15); text-align: center; }}
  h1 {{ font-size: 1.4rem; margin-top: 0; }}
  a {{ color: #1565c0; }}
</style>
</head>
<body>
<main class="dw-dashboard-full">
<h1>{headline}</h1>
<p>{detail}</p>
<p><a href="{again}">Try again</a></p>
</main>
</body>
</html>
"""


def full_message(visitors: int, retry_after: int) -> str:
    """What the page says: how many people are in, and when to come back."""
    people = "1 person is" if visitors == 1 else f"{visitors} people are"
    wait = "in a minute" if 45 <= retry_after <= 90 else f"in {retry_after} seconds"
    return f"The dashboard is full right now: {people} using it. Try again {wait}."


def render_full_page(visitors: int, retry_after: int, again_url: str) -> str:
    """The full page's HTML, self-contained (no script, no external resource)."""
    headline, _, detail = full_message(visitors, retry_after).partition(": ")
    return _PAGE.format(
        headline=escape(headline),
        detail=escape(detail[:1].upper() + detail[1:]),
        again=escape(again_url, quote=True),
    )


def send_full_page(handler, visitors: int, retry_after: int):
    """Answer ``handler``'s request with the full page, HTTP 503 and ``Retry-After``, and end it.

    Raises tornado's ``Finish``: the request ends here, without the handler's own error page
    (which would drop the ``Retry-After`` header).
    """
    handler.clear()
    handler.set_status(FULL_STATUS)
    handler.set_header("Content-Type", "text/html; charset=UTF-8")
    handler.set_header("Cache-Control", "no-store")
    handler.set_header("Retry-After", str(int(retry_after)))
    handler.write(render_full_page(visitors, retry_after, handler.request.uri or "/"))
    raise Finish()
