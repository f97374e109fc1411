"""Who is acting. Services take an Actor argument; they never read it from a request."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from crm.models import Role, StaffArea, StaffUser

# Roles that see every area's records.
ALL_AREAS_ROLES = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class Actor:
    label: str
    user_id: int | None = None
    role: Role | None = None
    area_ids: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def system(cls, label: str) -> Actor:
        """The scheduler, the assistant, the public web form, an import: trusted code paths."""
        return cls(label=label)

    @classmethod
    def for_staff(cls, session: Session, user: StaffUser) -> Actor:
        area_ids = session.exec(select(StaffArea.area_id).where(StaffArea.staff_id == user.id))
        return cls(
            label=f"staff:{user.id}",
            user_id=user.id,
            role=user.role,
            area_ids=frozenset(area_ids.all()),
        )

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    def may_work_on(self, area_id: int | None) -> bool:
        if self.is_system or self.role in ALL_AREAS_ROLES:
            return True
        # Households not yet routed to an area sit in the hub's triage queue, open to all staff.
        return area_id is None or area_id in self.area_ids
