"""The HTTP edge: JSON API, public unsubscribe pages, health and metrics."""
