"""Fuzz test of `fostercrm import tracker`: CSV files with hostile cells and headers, in every
encoding and line ending people's spreadsheets use (and bytes that are no text at all).

Whatever the file, the command ends with its summary or one readable "Error:" line, never a
traceback; households appear only when the import says it created them, each one whole; and
no control character is stored. On SQLite and PostgreSQL; bounded and deterministic."""

from __future__ import annotations

import csv
import io
import itertools
import re

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import crm.models as m
from crm.cli import main
from crm.services.imports.columns import COLUMNS
from tests.integration.fuzzing import (
    FUZZ,
    assert_households_consistent,
    assert_no_control_characters_stored,
    changed,
    counts,
    field,
    nasty_text,
)

good_row = st.builds(
    lambda n: {
        "reference": f"FZ-{n}",
        "enquiry_date": "2025-09-01",
        "first_name": "Zoë",
        "last_name": "O’Brien",
        "email": f"fuzz{n}@example.org",
        "phone": "",
        "postcode": "LE1 6ZG",
        "area": "Northshire",
        "source": "Web search",
        "first_contact_date": "2025-09-02",
        "initial_visit_date": "2025-09-10" if n % 2 else "",
        "withdrawn_date": "2025-10-01" if n % 3 == 0 else "",
        "withdrawn_reason": "Finances / allowances" if n % 3 == 0 else "",
    },
    st.integers(0, 10**9),
)
row = changed(
    good_row,
    {
        "reference": field("FZ-1"),
        "enquiry_date": st.one_of(field("2025-09-01"), field("31/02/2025")),
        "first_name": field("Zoë"),
        "last_name": field("O’Brien"),
        "email": field("someone@example.org"),
        "phone": field("07700 900123"),
        "postcode": field("LE1 6ZG"),
        "area": field("northshire"),
        "source": field("event"),
        "campaign": field("Spring radio 2026"),
        "initial_visit_date": field("2025-09-10"),
        "application_date": field("2025-09-20"),
        "withdrawn_date": field("2025-10-01"),
        "withdrawn_reason": field("we moved house"),
        "not_progressed_date": field("2025-10-01"),
    },
)
header = st.one_of(
    st.just(COLUMNS),
    st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=8, unique=True),
    st.lists(st.one_of(st.sampled_from(COLUMNS), nasty_text(max_size=10)), max_size=8),
)
# Encodings a tracker is saved in; "surrogatepass" writes lone surrogates' bytes (no valid
# UTF-8 has them) and cp1252 replaces what it cannot hold.
ENCODINGS = [
    ("utf-8", "strict"),
    ("utf-8-sig", "strict"),
    ("cp1252", "replace"),
    ("latin-1", "replace"),
    ("utf-8", "surrogatepass"),
    ("utf-16", "surrogatepass"),
]


def csv_bytes(columns: list[str], rows: list[dict], newline: str, encoding: tuple) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(columns)
    for values in rows:
        writer.writerow([values.get(c, "") for c in columns])
    name, errors = encoding
    return out.getvalue().encode(name, errors)


def test_fuzz_tracker_import(database_url, session, org, tmp_path):
    serial = itertools.count(1)
    runner = CliRunner()

    @FUZZ
    @given(
        content=st.one_of(
            st.builds(
                csv_bytes,
                header,
                st.lists(row, min_size=1, max_size=3),
                st.sampled_from(["\n", "\r\n", "\r"]),
                st.sampled_from(ENCODINGS),
            ),
            st.binary(max_size=300),
        ),
        options=st.sampled_from([[], ["--skip-invalid"], ["--dry-run"]]),
    )
    def run_import(content, options):
        path = tmp_path / f"tracker-{next(serial)}.csv"
        path.write_bytes(content)
        before = counts(session, m.Household, m.Applicant, m.StageEvent)
        result = runner.invoke(
            main,
            ["import", "tracker", *options, str(path)],
            env={"FOSTERCRM_DATABASE_URL": database_url},
        )
        # Never a traceback: a clean exit, or Click's one-line error.
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        assert "Traceback" not in result.output
        assert result.exit_code in (0, 1), result.output
        last = result.output.strip().splitlines()[-1] if result.output.strip() else ""
        after = counts(session, m.Household, m.Applicant, m.StageEvent)
        if result.exit_code == 1:
            assert last.startswith("Error: "), result.output
            assert after == before
            return
        created = re.search(r"; (\d+) created", last)
        if "--dry-run" in options or created is None:
            assert after == before, result.output
        else:
            assert after["household"] == before["household"] + int(created.group(1))
            assert after["applicant"] == before["applicant"] + int(created.group(1))

    run_import()
    assert counts(session, m.Household)["household"] > 0, "no example imported a household"
    assert_households_consistent(session)
    assert_no_control_characters_stored(session)
