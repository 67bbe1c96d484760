DROP TABLE sync_outbox;
DROP TABLE blacklisted_tokens;
DROP TABLE events;
DROP TABLE categories;
DROP TABLE users;
