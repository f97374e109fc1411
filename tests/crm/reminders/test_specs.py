"""Every reminder spec is well formed: its templates exist and go to the audience the outbox
treats them as, its keys are its own, and what it counts is in its summary."""

from __future__ import annotations

from crm.messaging import catalogue
from crm.messaging.render import TEMPLATES_DIR
from crm.services import reminders
from crm.services.reminders.engine import Audience


def test_every_notice_has_its_templates_and_the_right_audience():
    for spec in reminders.REMINDERS:
        for name, notice in spec.notices.items():
            assert (TEMPLATES_DIR / notice.template / "subject.txt").is_file(), notice.template
            # Staff templates skip the consent check and quiet hours; the public's never do.
            to_staff = notice.audience == Audience.STAFF
            assert (notice.template in catalogue.staff_templates()) == to_staff, (spec.id, name)
            assert notice.counts_as is None or notice.counts_as in spec.counts, (spec.id, name)


def test_each_reminder_has_its_own_keys():
    prefixes = [spec.keys for spec in reminders.REMINDERS]
    assert all(p.endswith(":") for p in prefixes)
    for prefix in prefixes:
        # One reminder's "already done" lookup never reads another's keys.
        assert [p for p in prefixes if p.startswith(prefix)] == [prefix]
    ids = [spec.id for spec in reminders.REMINDERS]
    assert len(ids) == len(set(ids))
