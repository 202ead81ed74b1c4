-- +goose Up
-- Each node's latest completed score per benchmark, maintained when a scan completes, so the
-- posture views read one row per node and benchmark instead of searching every scan.
CREATE TABLE latest_scores (
    node_id      TEXT    NOT NULL REFERENCES nodes (id),
    benchmark_id TEXT    NOT NULL,
    scan_id      TEXT    NOT NULL,
    finished_at  INTEGER NOT NULL,
    pass         INTEGER NOT NULL,
    fail         INTEGER NOT NULL,
    info         INTEGER NOT NULL,
    skip         INTEGER NOT NULL,
    error        INTEGER NOT NULL,
    PRIMARY KEY (node_id, benchmark_id)
) WITHOUT ROWID;
CREATE INDEX latest_scores_by_scan ON latest_scores (scan_id);
INSERT INTO latest_scores (node_id, benchmark_id, scan_id, finished_at, pass, fail, info, skip, error)
SELECT node_id, benchmark_id, scan_id, finished_at, pass, fail, info, skip, error FROM (
    SELECT s.node_id, sc.benchmark_id, s.id AS scan_id, s.finished_at, sc.pass, sc.fail, sc.info, sc.skip, sc.error,
           ROW_NUMBER() OVER (PARTITION BY s.node_id, sc.benchmark_id ORDER BY s.finished_at DESC, s.id DESC) AS rn
    FROM scores sc JOIN scans s ON s.id = sc.scan_id
    WHERE s.state = 'complete'
) WHERE rn = 1;

-- +goose Down
DROP TABLE latest_scores;
