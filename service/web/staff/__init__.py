"""The staff console (/staff/): its pages by what they show, and the error page routes.py answers with."""

from . import campaigns, lists, messages, outbox, pages
from .console import error_page

__all__ = ["campaigns", "error_page", "lists", "messages", "outbox", "pages"]
