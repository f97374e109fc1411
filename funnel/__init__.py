"""Funnel analytics: how many enquired, how far they got, how fast, where and why the rest
stopped, which channels bring carers who get approved, and whether approved carers stay.

- `funnel.load`: read-only queries into pandas DataFrames (the stage events are the history);
- `funnel.metrics`: pure, vectorised functions on those frames;
- `funnel.report`: the weekly manager report (HTML, charts, CSV, the email);
- `funnel.importer`: the tracker spreadsheets teams keep today, imported through the services;
- `funnel.cli` (`fostercrm import tracker`, `fostercrm report funnel|weekly`) and
  `funnel.views` (the report in the web CRM). See funnel/README.md.
"""
