-- 0002 jobs (SQLite): the durable job queue, worker heartbeats and the
-- global per-task rate-limit windows. See docs/JOBS.md.
-- Keep in step with 0002_jobs.postgres.sql.

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    queue            TEXT    NOT NULL,
    task             TEXT    NOT NULL,
    args             TEXT    NOT NULL DEFAULT '{}',
    state            TEXT    NOT NULL CHECK (state IN ('scheduled', 'available', 'running',
                         'succeeded', 'retryable', 'discarded', 'cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    run_at           BIGINT  NOT NULL,
    lease_owner      TEXT,
    lease_token      TEXT,
    lease_expires_at BIGINT,
    unique_key       TEXT,
    correlation_id   TEXT,
    last_error       TEXT,
    errors           TEXT    NOT NULL DEFAULT '[]',
    result           TEXT,
    inserted_at      BIGINT  NOT NULL,
    attempted_at     BIGINT,
    finished_at      BIGINT
);
-- At most one job per unique key among the active states.
CREATE UNIQUE INDEX jobs_unique_active ON jobs (unique_key)
    WHERE unique_key IS NOT NULL
      AND state IN ('scheduled', 'available', 'running', 'retryable');
-- The claim: per queue, in priority and due order, over claimable jobs only.
CREATE INDEX jobs_fetch ON jobs (queue, priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retryable');
-- The reaper and the heartbeat: running jobs by lease.
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE state = 'running';
-- The admin views and retention: by state, newest first.
CREATE INDEX jobs_state ON jobs (state, queue, id);

CREATE TABLE job_workers (
    id         TEXT    PRIMARY KEY,
    host       TEXT    NOT NULL,
    pid        BIGINT  NOT NULL,
    queues     TEXT    NOT NULL,
    started_at BIGINT  NOT NULL,
    last_seen  BIGINT  NOT NULL,
    running    TEXT    NOT NULL DEFAULT '[]'
);

CREATE TABLE job_rate_limits (
    task         TEXT    NOT NULL,
    window_start BIGINT  NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (task, window_start)
);
