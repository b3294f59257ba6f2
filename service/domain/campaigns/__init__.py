"""Campaign guardrails: each campaigns rates, and the pause before mailbox providers stop CETITs mail."""
