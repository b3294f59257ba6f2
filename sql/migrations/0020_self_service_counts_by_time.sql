-- Every request for a link purges the counts older than their window (DELETE ... WHERE at < ...):
-- an index on the time keeps that a range read instead of a scan of the whole table.
CREATE INDEX self_service_asks_by_time ON self_service_asks (at);
CREATE INDEX self_service_clients_by_time ON self_service_clients (at);
