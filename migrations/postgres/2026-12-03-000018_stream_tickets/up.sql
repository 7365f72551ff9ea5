-- Short-lived single-use tickets that let a browser's EventSource (which cannot send
-- Authorization) open one event stream. Only the SHA-256 of a ticket is kept; a ticket
-- speaks for its session, so ending the session ends its tickets.
CREATE TABLE stream_tickets (
    ticket_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    on_behalf_of TEXT,
    stream TEXT NOT NULL,
    mfa BOOLEAN NOT NULL,
    token_expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX stream_tickets_expires_at ON stream_tickets (expires_at);
