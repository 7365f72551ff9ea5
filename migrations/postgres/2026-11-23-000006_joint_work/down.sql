DROP TABLE comment_revisions;
DROP TABLE comments;
DROP TABLE participant_requests;
DROP TABLE signatures;
DROP TABLE invitations;
DROP TABLE participants;
