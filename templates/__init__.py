"""Package data: the Jinja2 pages and, under static/, their style sheets."""
