"""Importing records kept elsewhere. Today: the tracker spreadsheets services keep (CSV or
Excel), as households and their stage history, through the same services as everything else
(`tracker.import_tracker`; the file's columns and reading it in `columns`, a row's values
checked in `values`).

How it behaves, in the words of a team moving from its spreadsheet:

- A CSV file may be UTF-8 (with or without a byte-order mark) or Windows-1252 / Latin-1, with
  any line endings (Windows, Unix, old Mac); a file that is none of those is refused in one
  line. Every cell is cleaned of control characters (crm.text) before it is checked.
- The whole file is checked first. Any bad row (a date that is not a date, stages out of order,
  an unknown area, source or campaign...) is listed with its spreadsheet row number and column,
  and nothing is imported, unless `skip_invalid` is asked for: then the good rows go in and the
  bad ones are listed.
- A row becomes a household through `create_enquiry` (channel "import") and its later stages
  through `move_stage`, each dated at noon (UK time) on the tracker's date. A withdrawn or
  not-progressed reason is matched to the configured list by code or label; anything else is
  filed under "other" with the tracker's words kept.
- Rows are keyed on `reference`. Importing the same file again changes nothing. Importing an
  updated tracker applies only what is new at the end of each household's history (a later
  stage, a withdrawal, a first contact). A row that disagrees with what the CRM has (different
  dates, or the CRM has moved the household on differently) is reported as a conflict and left
  alone: the CRM's record wins.
- A row whose email or phone belongs to a household we already have (or to an earlier row of
  the file) is reported as a duplicate and skipped, rather than adding its stages to someone
  else's history.
- The call-back task `create_enquiry` opens for an enquiry with no first contact is closed
  when the tracker shows the household had already moved on or left: nobody needs to call
  back someone who withdrew two years ago.
"""
