"""optout: the suppression list, unsubscribe links and inbound mail handling of CETIT."""

__version__ = "0.1.0"
