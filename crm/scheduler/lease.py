"""A lease in the database so that only one scheduler is active.

The holder renews the row well before it expires; another instance keeps trying and takes the
row over only once it has expired (the holder died or hung). Works the same on SQLite and
PostgreSQL: the take-over is a single conditional UPDATE, and the very first holder is an
INSERT that only one instance can win (primary key).

Times come from crm.clock; hosts sharing a database need synchronised clocks (NTP), and the
lease length should be much longer than any plausible clock skew.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm import clock
from crm.models import SchedulerLease

LEASE_NAME = "scheduler"


class Lease:
    def __init__(
        self, engine: sa.Engine, holder: str, *, seconds: float = 60, name: str = LEASE_NAME
    ) -> None:
        self.engine = engine
        self.holder = holder
        self.seconds = seconds
        self.name = name

    def acquire(self) -> bool:
        """Take the lease if it is free or expired, or renew it if it is ours. True if held."""
        now = clock.now()
        expires = now + timedelta(seconds=self.seconds)
        table = SchedulerLease.__table__
        with self.engine.begin() as conn:
            result = conn.execute(
                table.update()
                .where(
                    table.c.name == self.name,
                    sa.or_(table.c.holder == self.holder, table.c.expires_at < now),
                )
                .values(
                    acquired_at=sa.case(
                        (table.c.holder == self.holder, table.c.acquired_at), else_=now
                    ),
                    holder=self.holder,
                    renewed_at=now,
                    expires_at=expires,
                )
            )
            if result.rowcount == 1:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    table.insert().values(
                        name=self.name,
                        holder=self.holder,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=expires,
                    )
                )
            return True
        except IntegrityError:
            return False

    def held(self) -> bool:
        """Whether the database says we hold an unexpired lease right now."""
        row = self.current()
        return row is not None and row[0] == self.holder and row[1] > clock.now()

    def current(self) -> tuple[str, datetime] | None:
        """(holder, expires_at) of the lease, or None if nobody ever held it."""
        table = SchedulerLease.__table__
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(table.c.holder, table.c.expires_at).where(table.c.name == self.name)
            ).first()
        if row is None:
            return None
        holder, expires_at = row
        if expires_at.tzinfo is None:  # raw SQL on SQLite gives naive UTC
            expires_at = expires_at.replace(tzinfo=UTC)
        return holder, expires_at

    def release(self) -> None:
        """Give the lease up at once (a clean stop), so a standby need not wait for expiry."""
        table = SchedulerLease.__table__
        with self.engine.begin() as conn:
            conn.execute(
                table.update()
                .where(table.c.name == self.name, table.c.holder == self.holder)
                .values(expires_at=clock.now() - timedelta(seconds=1))
            )
