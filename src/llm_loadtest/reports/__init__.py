"""Every rendering of a result: console, report.html (inline SVG), Markdown summary, JUnit XML."""
