ALTER TABLE applications DROP COLUMN signed_hash;
ALTER TABLE applications DROP COLUMN signers;
