-- Console sessions kept on the server: the cookie holds a random id (signed), this table its
-- digest. Logging out ends the session here, so an old cookie is refused; a session unused for
-- its idle time, or older than its age, is refused too; revoking the key ends it at once.
CREATE TABLE staff_sessions (
    id_hash    bytea       PRIMARY KEY,
    key_digest bytea       NOT NULL,
    name       text        NOT NULL,
    csrf       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now(),
    ended_at   timestamptz
);
CREATE INDEX staff_sessions_by_seen ON staff_sessions (seen_at);

-- Failed console logins per client, to slow down guessing: kept an hour.
CREATE TABLE staff_login_failures (
    client text        NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_login_failures_by_client ON staff_login_failures (client, at);
