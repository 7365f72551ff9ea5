-- Rate limits shared by every node: one row per limited key (a keyed hash, never the
-- login or address itself) holding its GCRA theoretical arrival time. Rows whose time has
-- passed hold no information and are purged by the jobs loop.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat TIMESTAMP NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
