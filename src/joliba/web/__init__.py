"""Server-rendered pages (Jinja2 + HTMX). Pages call services directly; each has an API twin."""
