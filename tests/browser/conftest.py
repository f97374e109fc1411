"""Browser tests: the real app served by a real WSGI server (werkzeug, port 0) to headless
Chromium (Debian's /usr/bin/chromium) driven by Playwright. No browser is ever downloaded."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from crm import clock
from crm.db import make_engine
from crm.testing.fixtures import DEFAULT_NOW, make_test_settings

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
DEMO_HOUSEHOLDS = 40


@pytest.fixture(scope="session")
def demo_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo hub generated once per worker, at the tests' frozen "now"; each test
    gets a copy of it (the same rows `generate` would give it: same seed, same day)."""
    from crm.demo import generate

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    clock.set_now(DEFAULT_NOW)
    try:
        generate(engine, make_test_settings(url), households=DEMO_HOUSEHOLDS, seed=1)
    finally:
        clock.set_now(None)
        engine.dispose()
    return path


@pytest.fixture
def live_server(sqlite_url: str, demo_template: Path) -> Iterator[str]:
    """The app on demo data (a small demo hub), served on an ephemeral port."""
    from crm.web import create_app

    shutil.copyfile(demo_template, sqlite_url.removeprefix("sqlite:///"))
    settings = make_test_settings(sqlite_url)
    engine = make_engine(sqlite_url)
    app = create_app(settings, engine=engine, secret_key="browser-test-secret-0123456789")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    engine.dispose()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.csp_errors = []
    page.on(
        "console",
        lambda msg: (
            page.csp_errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield page
    context.close()


@pytest.fixture
def axe_page(chromium):
    """A page whose context may inject axe-core (our CSP refuses injected scripts otherwise)."""
    context = chromium.new_context(bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def sign_in():
    return _sign_in


@pytest.fixture
def serious_violations():
    return _serious_violations


def _sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/home")


def _serious_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
