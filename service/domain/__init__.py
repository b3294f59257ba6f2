"""The rules of optout, free of web and mail frameworks."""
