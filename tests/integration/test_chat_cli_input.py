"""`fostercrm chat --once`: the terminal is outside too. A command line can carry control
characters and, from bytes that are not UTF-8, lone surrogates (Python's surrogateescape);
the assistant's entry cleans them before anything is stored."""

from __future__ import annotations

import json

from click.testing import CliRunner

from crm.cli import main


def test_chat_once_with_control_characters_and_a_lone_surrogate(sqlite_url):
    result = CliRunner().invoke(
        main,
        ["chat", "--once", "can I foster if I \x1b[1mrent\udcff\x07?", "--json"],
        env={"FOSTERCRM_DATABASE_URL": sqlite_url},
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["reply"]
    assert answer["topic"] != "fallback"
