-- The live sync workers, each with its last heartbeat: the project's rate of Google calls
-- (PHANTOM_SYNC_PROJECT_RATE) is shared equally by the workers heard of within a lease.
CREATE TABLE sync_workers (
    id TEXT PRIMARY KEY NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);
