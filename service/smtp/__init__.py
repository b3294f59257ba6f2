"""The mail edge: the inbound LMTP/SMTP receiver (and, later, the sending gateway)."""
