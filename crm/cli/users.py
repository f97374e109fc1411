"""`fostercrm user`: staff accounts."""

from __future__ import annotations

import click
from sqlmodel import Session

from crm.cli.common import cli_engine, cli_settings, friendly_errors


@click.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    required=True,
    help="admin, manager, recruitment_officer, "
    "assessing_social_worker or supervising_social_worker",
)
@click.option("--area", "areas", multiple=True, help="An area they work in (repeat for more).")
@click.password_option(help="At least 12 characters; asked for when not given.")
@friendly_errors
def user_create(email: str, name: str, role: str, areas: tuple[str, ...], password: str) -> None:
    """Create a member of staff who can sign in."""
    from crm.services.actors import Actor
    from crm.services.staff import create_staff_user

    with cli_engine(cli_settings()) as engine, Session(engine) as session:
        staff = create_staff_user(
            session,
            Actor.system("cli"),
            email=email,
            name=name,
            role=role,
            password=password,
            area_names=list(areas),
        )
        click.echo(f"Created {staff.role} {staff.email} (id {staff.id}).")
