"""Dashboard (port 5007): the live web page of the lab, its JSON APIs, operator controls and the reports page."""
