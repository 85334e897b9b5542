"""German letters as PDF: Jinja2 templates on one A4 letter layout, rendered by WeasyPrint."""
