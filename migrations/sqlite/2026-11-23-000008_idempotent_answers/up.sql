-- Every creating POST accepts `Idempotency-Key` (CONTRACT.md): a repeat gets the first
-- answer whole, with its `ETag` and `Location`, not only its body. Keys are kept for a
-- day (config) and then purged, oldest first.
ALTER TABLE idempotency_keys ADD COLUMN etag TEXT;
ALTER TABLE idempotency_keys ADD COLUMN location TEXT;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
