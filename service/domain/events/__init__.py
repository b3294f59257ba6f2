"""What other systems learn of: the history's events under their public names, with their
actor, as webhooks deliver them and the feed lists them."""
