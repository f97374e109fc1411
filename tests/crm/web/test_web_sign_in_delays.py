"""Failed sign-ins slow down guessing, never lock anyone out, and say nothing about who has an
account (the rule is in crm.services.throttle)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services.throttle import ACCOUNT, PAIR
from tests.crm.web.auth_helpers import client_at, comparable, sign_in, signed_in

WRONG = "not the password at all"
PLAIN = "Enter a correct email address and password"
TOO_MANY = "There have been too many failed attempts to sign in"


def retry_after(response) -> int | None:
    value = response.headers.get("Retry-After")
    return int(value) if value is not None else None


def test_unknown_and_known_emails_get_identical_answers(app, org, session):
    # A real account, an email nobody has, and a deactivated account, each tried from its own
    # address: after every failure (and during every wait) the three answers are the same.
    inactive = session.get(m.StaffUser, org.officer_south.id)
    inactive.active = False
    session.add(inactive)
    session.commit()
    tries = [
        (org.officer_north.email, client_at(app, "198.51.100.1")),
        ("nobody.at.all@test.example", client_at(app, "198.51.100.2")),
        (inactive.email, client_at(app, "198.51.100.3")),
    ]
    seen = []
    for failure in range(1, PAIR.free_failures + 4):
        answers = [sign_in(c, email, WRONG) for email, c in tries]
        first = comparable(answers[0], tries[0][0])
        for (email, _), answer in zip(tries[1:], answers[1:], strict=True):
            assert comparable(answer, email) == first, failure
        seen.append((answers[0].status_code, retry_after(answers[0])))
        wait = retry_after(answers[0])
        if wait:
            # During the wait even the right password is refused unchecked, alike for all.
            refused = [sign_in(c, email) for email, c in tries]
            assert all(r.status_code == 429 for r in refused)
            assert all(comparable(r, e) == comparable(refused[0], tries[0][0])
                       for (e, _), r in zip(tries, refused, strict=True))  # fmt: skip
            assert TOO_MANY in refused[0].get_data(as_text=True)
            clock.advance(timedelta(seconds=wait))
    assert seen == [(200, None)] * PAIR.free_failures + [(200, 1), (200, 2), (200, 4)]
    # The counters name neither the emails nor the addresses.
    rows = session.exec(select(m.SignInCounter)).all()
    text = repr([r.model_dump() for r in rows])
    assert rows and all(term not in text for term in ("test.example", "198.51.100", "nobody"))


def test_successful_sign_ins_from_one_address_do_not_count(app, org, session):
    office = client_at(app, "203.0.113.10")
    people = [org.admin, org.manager, org.officer_north, org.officer_south, org.assessor_north]
    # More than the old limit of 30 sign-ins an address per ten minutes.
    for n in range(31):
        browser = client_at(app, "203.0.113.10")
        assert signed_in(sign_in(browser, people[n % len(people)].email)), n
    assert session.exec(select(m.SignInCounter)).all() == []
    # Someone mistyping now gets the plain answer, and then signs in.
    first_try = sign_in(office, org.supervisor_north.email, WRONG)
    assert first_try.status_code == 200 and retry_after(first_try) is None
    assert PLAIN in first_try.get_data(as_text=True)
    assert signed_in(sign_in(office, org.supervisor_north.email))


def test_the_wait_grows_and_a_correct_password_after_it_signs_in(app, org):
    desk = client_at(app, "198.51.100.7")
    email = org.officer_north.email
    for _ in range(PAIR.free_failures):
        answer = sign_in(desk, email, WRONG)
        assert (answer.status_code, retry_after(answer)) == (200, None)
    waits = []
    for _ in range(4):
        answer = sign_in(desk, email, WRONG)
        waits.append(retry_after(answer))
        assert f"Wait {waits[-1]} second" in answer.get_data(as_text=True)
        if len(waits) < 4:
            clock.advance(timedelta(seconds=waits[-1]))
    assert waits == [1, 2, 4, 8]
    # Attempts during the wait are refused unchecked, and do not make it longer.
    for _ in range(3):
        refused = sign_in(desk, email)
        assert refused.status_code == 429 and not signed_in(refused)
        assert "Wait 8 seconds before you try again" in refused.get_data(as_text=True)
    clock.advance(timedelta(seconds=3))
    assert retry_after(sign_in(desk, email)) == 5
    clock.advance(timedelta(seconds=5))
    assert signed_in(sign_in(desk, email))


def test_counting_starts_again_after_a_quiet_hour(app, org):
    desk = client_at(app, "198.51.100.8")
    for _ in range(PAIR.free_failures + 1):
        last = sign_in(desk, org.manager.email, WRONG)
    assert retry_after(last) == 1
    clock.advance(PAIR.quiet + timedelta(seconds=1))
    again = sign_in(desk, org.manager.email, WRONG)
    assert (again.status_code, retry_after(again)) == (200, None)


def test_an_attacker_at_one_address_never_delays_the_owner_elsewhere(app, org):
    # The rule: one address's failures on an email slow down that address only. Its failures
    # count towards the email's own key only until the address itself is being delayed, and
    # one address's share is less than what it takes to delay the email everywhere.
    attacker = client_at(app, "192.0.2.66")
    victim = org.officer_north.email
    assert PAIR.free_failures + 1 <= ACCOUNT.free_failures
    for _ in range(PAIR.free_failures + 5):
        answer = sign_in(attacker, victim, WRONG)
        if retry_after(answer):
            clock.advance(timedelta(seconds=retry_after(answer)))
    assert retry_after(sign_in(attacker, victim, WRONG)) == 2**5
    # The owner at their own desk: a typo gets the plain answer, then they are in at once.
    owner = client_at(app, "198.51.100.20")
    typo = sign_in(owner, victim, WRONG)
    assert (typo.status_code, retry_after(typo)) == (200, None)
    assert signed_in(sign_in(owner, victim))
    # The attacker is still waiting.
    assert sign_in(attacker, victim).status_code == 429


def test_guessing_from_many_addresses_slows_the_email_everywhere(app, org):
    # Several addresses each staying under their own threshold add up on the email's key:
    # then everyone trying that email waits, and the owner is in once the wait is over.
    victim = org.assessor_north.email
    count = 0
    for n in range(1, 4):
        guesser = client_at(app, f"192.0.2.{n}")
        for _ in range(PAIR.free_failures):
            if count == ACCOUNT.free_failures + 1:
                break
            last = sign_in(guesser, victim, WRONG)
            count += 1
    assert retry_after(last) == 1
    owner = client_at(app, "198.51.100.30")
    refused = sign_in(owner, victim)
    assert refused.status_code == 429 and retry_after(refused) == 1
    # Another email is not affected.
    assert signed_in(sign_in(owner, org.manager.email))
    clock.advance(timedelta(seconds=1))
    assert signed_in(sign_in(client_at(app, "198.51.100.30"), victim))


def test_an_admin_sees_failed_sign_ins_and_can_forget_them(app, org, client_for, session):
    desk = client_at(app, "198.51.100.40")
    for _ in range(PAIR.free_failures + 2):
        sign_in(desk, org.officer_north.email, WRONG)
    assert sign_in(desk, org.officer_north.email).status_code == 429
    admin = client_for(org.admin)
    url = f"/admin/users/{org.officer_north.id}"
    page = admin.get(url).get_data(as_text=True)
    assert f"{PAIR.free_failures + 1} failed attempts to sign in with this email" in page
    assert "from 1 address" in page
    assert admin.post(url, {"action": "clear-failures"}, token_from=url).status_code == 302
    assert signed_in(sign_in(desk, org.officer_north.email))
    assert 'value="clear-failures"' not in admin.get(url).get_data(as_text=True)
    cleared = session.exec(
        select(m.AuditEvent).where(
            m.AuditEvent.entity == "staff_user", m.AuditEvent.entity_id == org.officer_north.id
        )
    ).all()
    assert [e.detail for e in cleared] == [{"sign_in_failures": True}]
