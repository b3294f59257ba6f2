"""What leaves optout: the outbox drainer, the relay client, the messages it sends (forwards to
staff, gateway copies) and webhook deliveries."""
