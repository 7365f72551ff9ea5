DROP INDEX one_time_codes_live;
CREATE INDEX one_time_codes_account ON one_time_codes (account_id, purpose, created_at);
