"""The `fostercrm` command: Flask's command group with our app factory, and every command
registered here, one module per group of commands.

Bad input or a bad setting ends a command with one readable line and a non-zero exit
(crm.cli.common). Each module imports only click and light parts of crm at the top: the heavy
ones (pandas, scikit-learn, the web app) inside the commands, so `fostercrm --help` is quick.
"""

from __future__ import annotations

import secrets

import click
from flask.cli import FlaskGroup, routes_command, shell_command

from crm.cli import (
    bot,
    chat,
    data_protection,
    db,
    demo,
    imports,
    production,
    reports,
    scheduler,
    serve,
    users,
)
from crm.cli.common import cli_settings


def create_app():  # noqa: ANN201
    """The app for Flask's own commands (`routes`, `shell`)."""
    from crm.web import create_app

    # Commands such as `routes` and `shell` never sign a cookie, so a throwaway key will do.
    settings = cli_settings()
    return create_app(settings, secret_key=settings.secret_key or secrets.token_urlsafe(32))


class FostercrmGroup(FlaskGroup):
    """FlaskGroup (the app factory for `routes` and `shell`) with only the commands registered
    below: no commands looked up from installed packages' entry points or from the app (which
    would build the app, and so read the settings, just to print --help), no .env files (the
    settings come from config/settings.toml and FOSTERCRM_* variables only), and no
    --app/--debug/--env-file options or FLASK_* variables for options."""

    def __init__(self, **extra) -> None:  # noqa: ANN003
        super().__init__(
            add_default_commands=False,
            create_app=create_app,
            add_version_option=False,
            load_dotenv=False,
            set_debug_flag=False,
            context_settings={"auto_envvar_prefix": None},
            **extra,
        )
        self.params = [p for p in self.params if p.name not in {"env_file", "app", "debug"}]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return click.Group.get_command(self, ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return click.Group.list_commands(self, ctx)


main = FostercrmGroup(
    name="fostercrm", help="Fostercrm: recruitment and retention of foster carers."
)

for command in (
    routes_command,
    shell_command,
    serve.up,
    production.serve,
    db.db,
    demo.demo_data,
    users.user,
    scheduler.scheduler,
    bot.bot_command,
    chat.chat_command,
    imports.import_group,
    reports.report_group,
    data_protection.data_protection,
):
    main.add_command(command)


def run() -> None:
    """Console-script entry point."""
    main(prog_name="fostercrm")
