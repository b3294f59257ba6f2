"""The suppression list: rules, operations, links and tokens, bulk import/export, erasure and the keyed hash."""
