"""`fostercrm bot`: the Telegram bot in its own process."""

from __future__ import annotations

import secrets

import click

from crm.cli.common import cli_settings


@click.command("bot")
@click.option("--webhook-url", help="Public HTTPS address Telegram should post updates to.")
@click.option("--listen", default="127.0.0.1", show_default=True, help="Webhook: address.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--secret-token",
    envvar="TELEGRAM_WEBHOOK_SECRET",
    help="Webhook: the secret Telegram sends back in every request (or TELEGRAM_WEBHOOK_SECRET).",
)
def bot_command(webhook_url: str | None, listen: str, port: int, secret_token: str | None) -> None:
    """Run the Telegram bot: polling by default, or a webhook with a secret token.

    Reads TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE_URL. Run one of these processes only."""
    from bot.telegram import run_polling, run_webhook
    from crm.db import make_engine

    settings = cli_settings()
    if not settings.telegram_bot_token:
        raise click.ClickException("TELEGRAM_BOT_TOKEN: not set (the token BotFather gave you)")
    from bot import safeguarding

    # Built before the first update arrives, not while a person waits for a reply.
    safeguarding.warm_up()
    engine = make_engine(settings.database.url)
    try:
        if webhook_url:
            if not secret_token:
                secret_token = secrets.token_urlsafe(32)
                click.echo("No --secret-token given: using a new random one for this run.")
            click.echo(f"Telegram bot: webhook on {listen}:{port} for {webhook_url}")
            run_webhook(settings, engine, webhook_url, listen, port, secret_token)
        else:
            click.echo("Telegram bot: polling (Ctrl+C to stop)")
            run_polling(settings, engine)
    finally:
        engine.dispose()
