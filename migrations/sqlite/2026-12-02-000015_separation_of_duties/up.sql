-- Issue 15 item 2: whoever a representative invites on behalf of a principal is marked so,
-- on the invitation and on the participant it makes, so the principal (and the agency)
-- can tell a party the principal chose from one chosen for them.
-- (No REFERENCES here: SQLite cannot drop a column that is a foreign key, and the down
-- migration drops them; the PostgreSQL tree keeps the constraint.)
ALTER TABLE invitations ADD COLUMN invited_on_behalf_of TEXT NULL;
ALTER TABLE participants ADD COLUMN invited_on_behalf_of TEXT NULL;

-- Issue 15 item 3: taking an application assigns it to that officer; only the assignee
-- (or a supervisor of the agency) decides it. A forward to another agency ends the
-- assignment. Applications taken before this migration are assigned to the officer of
-- their latest take, so nobody else decides them either.
CREATE TABLE application_assignments (
    application_id TEXT PRIMARY KEY REFERENCES applications (id),
    officer_id TEXT NOT NULL REFERENCES accounts (id),
    assigned_at TIMESTAMP NOT NULL
);
INSERT INTO application_assignments (application_id, officer_id, assigned_at)
SELECT h.application_id, h.actor_id, h.occurred_at
FROM application_history h
WHERE h.event = 'take' AND h.actor_id IS NOT NULL
  AND h.seq = (SELECT MAX(l.seq) FROM application_history l
               WHERE l.application_id = h.application_id AND l.event IN ('take', 'forward'));
