"""The process-wide cache of compiled templates: shared between apps, never stale."""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader

from crm.web import COMPILED_TEMPLATES, CompiledTemplates, create_app

SECRET = "test-secret-key-0123456789abcdef"


def test_a_second_app_reuses_the_first_apps_compiled_templates(settings, engine) -> None:
    COMPILED_TEMPLATES.clear()
    first = create_app(settings, engine=engine, secret_key=SECRET)
    with first.test_request_context():
        first.jinja_env.get_template("base.html")
    compiled = len(COMPILED_TEMPLATES._compiled)
    assert compiled > 0

    second = create_app(settings, engine=engine, secret_key=SECRET)
    assert second.jinja_env.bytecode_cache is first.jinja_env.bytecode_cache
    with second.test_request_context():
        second.jinja_env.get_template("base.html")
    # Nothing new was compiled: the second environment loaded what the first one stored.
    assert len(COMPILED_TEMPLATES._compiled) == compiled


def test_an_edited_template_is_compiled_again(tmp_path) -> None:
    page = tmp_path / "page.html"
    page.write_text("before")
    cache = CompiledTemplates()

    def render() -> str:
        env = Environment(loader=FileSystemLoader(str(tmp_path)), bytecode_cache=cache)
        return env.get_template("page.html").render()

    assert render() == "before"
    page.write_text("after")
    assert render() == "after"
