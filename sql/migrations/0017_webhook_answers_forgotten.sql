-- What a failing webhook receiver answered is no longer kept beyond its status code: it may be
-- a read-back of an internal service (an error page, a metadata document). The first words of
-- such answers, kept so far after "answered NNN: ", go; our own note of why a dead row was given
-- up ("; not taken within N days (M tries)") stays.
UPDATE outbox
   SET last_error = substring(last_error FROM '^answered [0-9]{3}(?: \(redirects are not followed\))?')
                    || coalesce(substring(last_error FROM '(; not taken within [0-9]+ days \([0-9]+ tries\))$'), '')
 WHERE kind = 'webhook' AND last_error ~ '^answered [0-9]{3}(:| \(redirects are not followed\): )';
