"""Two visitors on one Voila server at once, served as deploy/voila-nginx serves it.

One visitor trains (then stops) while the other draws with the pretrained model the dashboard
starts with. Each page has its own kernel, so neither sees the other's model, drawing or
chart, and the drawer's page keeps answering while the other trains.
The server runs with the deploy files' base URL and token.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from .conftest import (
    ROOT,
    EpochGate,
    VoilaServer,
    draw_stroke,
    gated_env,
    open_dashboard,
    set_epochs,
)

TOKEN = "a-token-for-the-many-users-test"
BASE_URL = "/digits/"

CHART_POINTS = """() => [...document.querySelectorAll('.dw-chart path.line')]
    .map(p => (p.getAttribute('d') || '').split(/[ML]/).length - 1)
    .reduce((a, b) => a + b, 0)"""

KERNEL_ID = "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"

TRAINING = "() => document.querySelector('button.dw-train').disabled"


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium_path):
    """One Voila server with the deploy files' base URL and a token (runs can be held)."""
    home = tmp_path_factory.mktemp("voila-many")
    server = VoilaServer(
        ROOT / "notebooks" / "dashboard.ipynb",
        home,
        extra_args=[f"--Voila.base_url={BASE_URL}", f"--Voila.token={TOKEN}"],
        env=gated_env(home),
    )
    server.start()
    yield server
    server.stop()


def dashboard_url(server: VoilaServer) -> str:
    return f"{server.url}{BASE_URL.strip('/')}/?token={TOKEN}"


def wait_for_prediction(page, *, shown: bool) -> None:
    """Wait until the page's kernel shows a predicted digit and how sure it is (``shown``), or
    no digit. The digit and the sentence are two widgets, updated one after the other."""
    if shown:
        page.wait_for_function(
            "() => document.querySelector('.dw-prediction').textContent.trim() !== ''"
            " && /sure/.test(document.querySelector('.dw-confidence').textContent)",
        )
    else:
        page.wait_for_function(
            "() => document.querySelector('.dw-prediction').textContent.trim() === ''",
        )


def reading(page) -> tuple[str, str]:
    """The predicted digit and how sure the model is, as the page shows them."""
    return page.inner_text(".dw-prediction").strip(), page.inner_text(".dw-confidence").strip()


def model_label(page) -> str:
    return page.inner_text(".dw-model-label").strip()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_visitor_without_the_token_gets_no_dashboard(server):
    # Voila has no login page: without the token it redirects to /login, which redirects again.
    opener = urllib.request.build_opener(_NoRedirects)
    url = f"{server.url}{BASE_URL.strip('/')}/"
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(url, timeout=30)
    assert refused.value.code in (302, 401, 403)
    assert "dw-train" not in refused.value.read().decode(errors="replace")
    with opener.open(f"{url}?token={TOKEN}", timeout=120) as reply:
        assert reply.status == 200


@pytest.mark.slow
def test_one_trains_while_the_other_draws(browser, server, artifacts):
    # The trainer's run waits at the end of each epoch the gate has not allowed yet: it cannot
    # end before the drawer is done, nor stall unseen, however fast or slow the machine.
    gate = EpochGate(server)
    gate.allow(1)
    trainer = open_dashboard(browser, dashboard_url(server))
    drawer = open_dashboard(browser, dashboard_url(server))
    try:
        assert trainer.evaluate(KERNEL_ID) != drawer.evaluate(KERNEL_ID)
        drawer_model = model_label(drawer)
        assert "your run" not in drawer_model

        # Each prediction below is the drawer's kernel answering while the other one trains.
        one = [(0.5, 0.15 + 0.07 * i) for i in range(11)]
        set_epochs(trainer, 40)
        trainer.click("button.dw-train")
        trainer.wait_for_function(f"() => ({CHART_POINTS})() > 2", timeout=90_000)
        points_before = trainer.evaluate(CHART_POINTS)

        draw_stroke(drawer, one)
        wait_for_prediction(drawer, shown=True)
        drawer_reading = reading(drawer)
        drawer.click("button.dw-clear")
        wait_for_prediction(drawer, shown=False)
        draw_stroke(drawer, one)
        wait_for_prediction(drawer, shown=True)
        drawer.click("button.dw-undo")
        wait_for_prediction(drawer, shown=False)
        drawer.screenshot(path=str(artifacts / "many-users-drawer.png"), full_page=True)

        assert trainer.evaluate(TRAINING), "training ended before the drawer was done"
        gate.allow(2)
        trainer.wait_for_function(f"() => ({CHART_POINTS})() > {points_before}")
        assert drawer.evaluate(CHART_POINTS) == 0, "the drawer sees the other's chart"
        assert not drawer.evaluate(TRAINING)
        assert trainer.inner_text(".dw-prediction").strip() == "", "the drawer's strokes leak"

        # Stop while the run waits at the end of epoch 2 of 40: it has a model by then.
        trainer.wait_for_function(
            "() => /Epoch [2-9]/.test(document.querySelector('.dw-progress').textContent)",
            timeout=120_000,
        )
        trainer.click("button.dw-stop")
        trainer.wait_for_function(
            "() => /stopped/i.test(document.querySelector('.dw-status').textContent)",
            timeout=60_000,
        )
        trainer.wait_for_function(
            "() => /your run/i.test(document.querySelector('.dw-model-label').textContent)",
        )
        trainer.screenshot(path=str(artifacts / "many-users-trainer.png"), full_page=True)

        # The trainer's model is the trainer's alone: the drawer reads the same stroke with the
        # same model as before, to the same figures.
        assert model_label(drawer) == drawer_model
        draw_stroke(drawer, one)
        wait_for_prediction(drawer, shown=True)
        assert reading(drawer) == drawer_reading
        assert drawer.evaluate(CHART_POINTS) == 0
    finally:
        gate.open()
        trainer.context.close()
        drawer.context.close()
