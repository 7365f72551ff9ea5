DROP TABLE attachments;
DROP TABLE documents;
DROP TABLE blobs;
