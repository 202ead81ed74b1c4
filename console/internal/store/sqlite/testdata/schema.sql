CREATE TABLE api_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    role       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    created_by TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE audit (
    seq    INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL
);

CREATE TABLE batches (
    scan_id     TEXT    NOT NULL REFERENCES scans (id),
    seq         INTEGER NOT NULL,
    node_id     TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    stored      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scan_id, seq)
) WITHOUT ROWID;

CREATE TABLE control_set_controls (
    set_id     TEXT NOT NULL REFERENCES control_sets (id),
    control_id TEXT NOT NULL,
    title      TEXT NOT NULL,
    severity   TEXT NOT NULL,
    service    TEXT NOT NULL,
    benchmarks TEXT NOT NULL,
    PRIMARY KEY (set_id, control_id)
) WITHOUT ROWID;

CREATE TABLE control_sets (
    id TEXT NOT NULL PRIMARY KEY
);

CREATE TABLE enrol_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    hash       BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    uses       INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER,
    created_by TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE latest_scores (
    node_id      TEXT    NOT NULL REFERENCES nodes (id),
    benchmark_id TEXT    NOT NULL,
    scan_id      TEXT    NOT NULL,
    finished_at  INTEGER NOT NULL,
    pass         INTEGER NOT NULL,
    fail         INTEGER NOT NULL,
    info         INTEGER NOT NULL,
    skip         INTEGER NOT NULL,
    error        INTEGER NOT NULL, masked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (node_id, benchmark_id)
) WITHOUT ROWID;

CREATE TABLE leases (
    name       TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE masks (
    id         TEXT    NOT NULL PRIMARY KEY,
    control_id TEXT    NOT NULL,
    node_ids   TEXT    NOT NULL,
    resource   TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL DEFAULT '',
    expires_at INTEGER,
    removed_at INTEGER,
    removed_by TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE nodes (
    id             TEXT    NOT NULL PRIMARY KEY,
    name           TEXT    NOT NULL,
    target_type    TEXT    NOT NULL,
    facts          TEXT    NOT NULL,
    enrol_token_id TEXT    NOT NULL,
    enrolled_at    INTEGER NOT NULL,
    last_seen_at   INTEGER
);

CREATE TABLE results (
    scan_id    TEXT NOT NULL REFERENCES scans (id),
    control_id TEXT NOT NULL,
    resource   TEXT NOT NULL,
    node_id    TEXT NOT NULL,
    status     TEXT NOT NULL,
    severity   TEXT NOT NULL,
    service    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    evidence   TEXT,
    PRIMARY KEY (scan_id, control_id, resource, node_id)
) WITHOUT ROWID;

CREATE TABLE scan_controls (
    scan_id    TEXT NOT NULL REFERENCES scans (id),
    control_id TEXT NOT NULL,
    title      TEXT NOT NULL,
    severity   TEXT NOT NULL,
    service    TEXT NOT NULL,
    benchmarks TEXT NOT NULL,
    PRIMARY KEY (scan_id, control_id)
) WITHOUT ROWID;

CREATE TABLE scans (
    id                TEXT    NOT NULL PRIMARY KEY,
    group_id          TEXT    NOT NULL DEFAULT '',
    node_id           TEXT    NOT NULL REFERENCES nodes (id),
    state             TEXT    NOT NULL,
    benchmark_ids     TEXT    NOT NULL,
    controls_total    INTEGER NOT NULL DEFAULT 0,
    controls_done     INTEGER NOT NULL DEFAULT 0,
    results_stored    INTEGER NOT NULL DEFAULT 0,
    message           TEXT    NOT NULL DEFAULT '',
    created_by        TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    dispatched_at     INTEGER,
    started_at        INTEGER,
    finished_at       INTEGER,
    last_heartbeat_at INTEGER
, control_set_id TEXT REFERENCES control_sets (id));

CREATE TABLE scores (
    scan_id      TEXT    NOT NULL REFERENCES scans (id),
    benchmark_id TEXT    NOT NULL,
    pass         INTEGER NOT NULL,
    fail         INTEGER NOT NULL,
    info         INTEGER NOT NULL,
    skip         INTEGER NOT NULL,
    error        INTEGER NOT NULL, masked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scan_id, benchmark_id)
) WITHOUT ROWID;

CREATE TABLE sessions (
    hash       BLOB    NOT NULL PRIMARY KEY,
    user_name  TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role       TEXT    NOT NULL,
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    name          TEXT    NOT NULL PRIMARY KEY,
    password_hash BLOB    NOT NULL,
    role          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE INDEX audit_by_at ON audit (at, seq);

CREATE INDEX latest_scores_by_scan ON latest_scores (scan_id);

CREATE INDEX masks_by_control ON masks (control_id, created_at, id);

CREATE INDEX nodes_by_name ON nodes (name);

CREATE INDEX scans_by_created ON scans (created_at, id);

CREATE INDEX scans_by_group ON scans (group_id, created_at, id);

CREATE INDEX scans_by_node ON scans (node_id, created_at, id);

CREATE INDEX scans_unfinished ON scans (state) WHERE state IN ('queued', 'dispatched', 'running');

CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE INDEX sessions_by_user ON sessions (user_name);

