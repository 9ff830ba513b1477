-- 0003 beat (SQLite): the scheduler's leader lease and the last slot
-- enqueued per task. See docs/BEAT.md.
-- Keep in step with 0003_beat.postgres.sql.

-- One row per lease name ('beat'): who holds it and until when (ms since
-- the epoch, on the holder's clock). Free when expires_at < now.
CREATE TABLE beat_leases (
    name        TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL,
    acquired_at BIGINT  NOT NULL
);

-- The latest slot (ms since the epoch) handled for each scheduled task:
-- slots at or before it are never enqueued again, and a beat that starts
-- after downtime runs a task once when its latest due slot is newer.
CREATE TABLE beat_slots (
    task       TEXT    PRIMARY KEY,
    last_slot  BIGINT  NOT NULL,
    job_id     BIGINT,
    updated_at BIGINT  NOT NULL
);
