"""The suppression list: rules, the list itself (suppression_list), links and tokens, import and export (transfer), erasure and the keyed hash."""
