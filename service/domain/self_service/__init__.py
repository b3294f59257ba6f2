"""The person's own page (/me): a link by mail proves the mailbox; the page shows and changes the rest."""
