-- Initial schema. Times are UTC unix nanoseconds (BIGINT): timestamptz keeps only microseconds
-- and the store returns times to the nanosecond. NULL means "not set" (a zero time.Time). Every
-- text column that is compared or ordered uses COLLATE "C", so that orderings compare bytes
-- whatever the database's locale (and match SQLite). Lists are text[]; structured values that SQL
-- never looks into (evidence) are JSON text, which costs nothing to parse on ingest. Migrations
-- are append-only: never edit this file once released, add a new dated one.
--
-- Indexes, and why:
--   * results: the primary key (scan_id, control_id, resource, node_id) is the uniqueness rule
--     of a result, the listing order and the keyset cursor at once. A scan belongs to one node,
--     so a scan holds one node's results (hundreds to a few thousand rows): every ListResults
--     filter (status, service, severity, control ids) is a range scan of that key prefix with
--     the filters applied to the rows, and a page continues with a row comparison on the same
--     key. Secondary indexes on status, service or severity would each be written for every
--     ingested result (the hot path) to save reading at most one scan's rows, so there are none.
--   * scans: (node_id, created_at, id) serves a node's history and "latest scans per node"
--     newest first with keyset paging; (group_id, ...) a scan group; (created_at, id) the
--     unfiltered listing. The partial index over unfinished scans keeps StaleScans (run
--     periodically) proportional to the scans in flight, not to the whole history, and gives
--     its order (created_at, id).
--   * batches: the primary key (scan_id, seq) is the idempotence rule of StoreBatch.

-- +goose Up
CREATE TABLE enrol_tokens (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    hash       BYTEA            NOT NULL UNIQUE,
    created_at BIGINT           NOT NULL,
    expires_at BIGINT,
    uses       INTEGER          NOT NULL,
    used       INTEGER          NOT NULL DEFAULT 0,
    revoked_at BIGINT,
    created_by TEXT             NOT NULL DEFAULT ''
);

CREATE TABLE nodes (
    id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name           TEXT COLLATE "C" NOT NULL,
    target_type    TEXT COLLATE "C" NOT NULL,
    facts          JSONB            NOT NULL,
    enrol_token_id TEXT COLLATE "C" NOT NULL,
    enrolled_at    BIGINT           NOT NULL,
    last_seen_at   BIGINT
);
CREATE INDEX nodes_by_name ON nodes (name, id);

CREATE TABLE api_tokens (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    hash       BYTEA            NOT NULL UNIQUE,
    role       TEXT             NOT NULL,
    created_at BIGINT           NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    created_by TEXT             NOT NULL DEFAULT ''
);

CREATE TABLE users (
    name          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    password_hash BYTEA            NOT NULL,
    role          TEXT             NOT NULL,
    created_at    BIGINT           NOT NULL
);

CREATE TABLE scans (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    group_id          TEXT COLLATE "C" NOT NULL DEFAULT '',
    node_id           TEXT COLLATE "C" NOT NULL REFERENCES nodes (id),
    state             TEXT COLLATE "C" NOT NULL,
    benchmark_ids     TEXT[]           NOT NULL,
    controls_total    INTEGER          NOT NULL DEFAULT 0,
    controls_done     INTEGER          NOT NULL DEFAULT 0,
    results_stored    BIGINT           NOT NULL DEFAULT 0,
    message           TEXT             NOT NULL DEFAULT '',
    created_by        TEXT             NOT NULL DEFAULT '',
    created_at        BIGINT           NOT NULL,
    dispatched_at     BIGINT,
    started_at        BIGINT,
    finished_at       BIGINT,
    last_heartbeat_at BIGINT
);
CREATE INDEX scans_by_created ON scans (created_at, id);
CREATE INDEX scans_by_node ON scans (node_id, created_at, id);
CREATE INDEX scans_by_group ON scans (group_id, created_at, id);
CREATE INDEX scans_unfinished ON scans (created_at, id) WHERE state IN ('queued', 'dispatched', 'running');

CREATE TABLE scan_controls (
    scan_id    TEXT COLLATE "C" NOT NULL REFERENCES scans (id),
    control_id TEXT COLLATE "C" NOT NULL,
    title      TEXT             NOT NULL,
    severity   TEXT COLLATE "C" NOT NULL,
    service    TEXT COLLATE "C" NOT NULL,
    benchmarks TEXT[]           NOT NULL,
    PRIMARY KEY (scan_id, control_id)
);

CREATE TABLE batches (
    scan_id     TEXT COLLATE "C" NOT NULL REFERENCES scans (id),
    seq         BIGINT           NOT NULL,
    node_id     TEXT COLLATE "C" NOT NULL,
    received_at BIGINT           NOT NULL,
    stored      INTEGER          NOT NULL DEFAULT 0,
    PRIMARY KEY (scan_id, seq)
);

-- No foreign key to scans: StoreBatch checks the scan once per batch, and a per-row key check
-- would cost more than the whole COPY. Deleting a scan deletes its results first.
CREATE TABLE results (
    scan_id    TEXT COLLATE "C" NOT NULL,
    control_id TEXT COLLATE "C" NOT NULL,
    resource   TEXT COLLATE "C" NOT NULL,
    node_id    TEXT COLLATE "C" NOT NULL,
    status     TEXT COLLATE "C" NOT NULL,
    severity   TEXT COLLATE "C" NOT NULL,
    service    TEXT COLLATE "C" NOT NULL,
    reason     TEXT             NOT NULL,
    evidence   TEXT,
    PRIMARY KEY (scan_id, control_id, resource, node_id)
);

CREATE TABLE scores (
    scan_id      TEXT COLLATE "C" NOT NULL REFERENCES scans (id),
    benchmark_id TEXT COLLATE "C" NOT NULL,
    pass         INTEGER          NOT NULL,
    fail         INTEGER          NOT NULL,
    info         INTEGER          NOT NULL,
    skip         INTEGER          NOT NULL,
    error        INTEGER          NOT NULL,
    PRIMARY KEY (scan_id, benchmark_id)
);

CREATE TABLE audit (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT   NOT NULL,
    action TEXT   NOT NULL,
    target TEXT   NOT NULL,
    detail TEXT   NOT NULL
);
CREATE INDEX audit_by_at ON audit (at, seq);

-- +goose Down
DROP TABLE audit;
DROP TABLE scores;
DROP TABLE results;
DROP TABLE batches;
DROP TABLE scan_controls;
DROP TABLE scans;
DROP TABLE users;
DROP TABLE api_tokens;
DROP TABLE nodes;
DROP TABLE enrol_tokens;
