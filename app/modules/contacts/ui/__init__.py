"""Qt views of the contacts module: the browser, import wizard and segment builder."""
