"""Outgoing mail: the relay client (with retries) and the forwarding of inbound mail to staff."""
