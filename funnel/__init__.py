"""Funnel analytics: how many enquired, how far they got, how fast, where and why the rest
stopped, which channels bring carers who get approved, and whether approved carers stay.
It only reads the database.

- `funnel.frames`: the pandas frames, their columns and dtypes, and each household's journey;
- `funnel.load`: read-only queries into those frames;
- `funnel.metrics`: pure, vectorised functions on the frames;
- `funnel.weekly`: the weekly report's figures, sentences and tables (`funnel.tables`);
- `funnel.report` and `funnel.charts`: rendering it (HTML, text, CSV, PNG charts, the email);
- `funnel.cli` (`fostercrm report funnel|weekly`) and `funnel.views` (the report in the web
  CRM). Queueing the weekly email is crm.services.reports; importing a tracker spreadsheet is
  crm.services.imports. See funnel/README.md.
"""
