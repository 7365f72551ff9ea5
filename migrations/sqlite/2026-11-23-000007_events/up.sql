-- Live events (SPEC §4): what happened to an application, kept so that a Server-Sent
-- Events client can resume after a disconnect (Last-Event-ID) on any API node.

-- `id` comes from the `event_id` counter, whose row lock is held to commit: ids are
-- gapless and committed in id order, so "everything after N" is a complete answer.
CREATE TABLE events (
    id BIGINT PRIMARY KEY,
    application_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX events_application ON events (application_id, id);

-- Who receives an event on `/me/events`.
CREATE TABLE event_audience (
    account_id TEXT NOT NULL,
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, event_id)
);

INSERT INTO counters (name, value) VALUES ('event_id', 0);
