"""Funnel analytics: how many enquired, how far they got, how fast, where and why the rest
stopped, which channels bring carers who get approved, and whether approved carers stay.
It only reads the database.

- `funnel.frames`: the pandas frames, their columns and dtypes, and each household's journey;
- `funnel.load`: read-only queries into those frames;
- `funnel.metrics`: pure, vectorised functions on the frames;
- `funnel.weekly`: the weekly report's figures, sentences and tables (`funnel.tables`);
- `funnel.report` and `funnel.charts`: rendering it (HTML, text, CSV, PNG charts, the email);
Its readers are `fostercrm report funnel|weekly` (crm.cli.reports), the report pages in the web
CRM (crm.web.reports) and the weekly email (crm.services.reports, which also queues it).
Importing a tracker spreadsheet is crm.services.imports. See funnel/README.md.
"""
