"""Package data: the numbered migrations under migrations/, applied by service.storage.db."""
