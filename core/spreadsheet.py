"""Cells of the CSV files the apps export for spreadsheets."""

# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"):
# "=", "+", "-", "@", and a tab or carriage return before one of them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    """``value`` as text a spreadsheet shows and never runs: a leading
    apostrophe when it starts like a formula (``=HYPERLINK(…)`` →
    ``'=HYPERLINK(…)``). The one guard of every CSV export of user text."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
