"""The mail edge: the inbound LMTP/SMTP receiver and the sending gateway."""
