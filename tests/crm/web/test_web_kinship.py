"""A connected person's temporary approval on the household page: a manager records it, the
page shows the days left, a bad extension keeps what was typed; other roles cannot decide."""

from __future__ import annotations

import crm.models as m


def test_record_and_extend_from_the_household_page(client_for, org, session, make_household):
    household = make_household(first="Kin", last="Carer")
    household.is_kinship = True
    session.add(household)
    session.commit()
    url = f"/households/{household.id}"
    c = client_for(org.manager)
    page = c.get(url).get_data(as_text=True)
    assert "Temporary approval (connected person)" in page
    assert "Record a temporary approval" in page
    done = c.post(f"{url}/temporary-approval",
                  {"child_reference": "C-77", "approved_on": ["10", "3", "2026"]},
                  token_from=f"{url}/temporary-approval")  # fmt: skip
    assert done.status_code == 302
    page = c.get(url).get_data(as_text=True)
    assert "C-77" in page and "30 Jun 2026" in page and "(112 days left)" in page
    bad = c.post(f"{url}/temporary-approval/extend",
                 {"until": ["1", "12", "2026"], "reason": "Waiting for <the> GP"},
                 token_from=f"{url}/temporary-approval/extend")  # fmt: skip
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "An extension is at most 8 weeks: the latest date is 25 August 2026" in text
    assert "Waiting for &lt;the&gt; GP" in text
    assert session.get(m.TemporaryApproval, 1).extended_until is None


def test_recruitment_roles_cannot_record_one(client_for, org, make_household, session):
    household = make_household()
    household.is_kinship = True
    session.add(household)
    session.commit()
    for user in (org.officer_north, org.assessor_north):
        c = client_for(user)
        assert c.get(f"/households/{household.id}/temporary-approval").status_code == 403
        assert "Record a temporary approval" not in c.get(f"/households/{household.id}").get_data(
            as_text=True
        )
