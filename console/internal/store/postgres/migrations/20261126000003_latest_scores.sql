-- +goose Up
-- Each node's latest completed score per benchmark, maintained when a scan completes, so the
-- posture views read one row per node and benchmark instead of searching every scan.
CREATE TABLE latest_scores (
    node_id      TEXT COLLATE "C" NOT NULL REFERENCES nodes (id),
    benchmark_id TEXT COLLATE "C" NOT NULL,
    scan_id      TEXT COLLATE "C" NOT NULL,
    finished_at  BIGINT NOT NULL,
    pass         INTEGER NOT NULL,
    fail         INTEGER NOT NULL,
    info         INTEGER NOT NULL,
    skip         INTEGER NOT NULL,
    error        INTEGER NOT NULL,
    PRIMARY KEY (node_id, benchmark_id)
);
CREATE INDEX latest_scores_by_scan ON latest_scores (scan_id);
INSERT INTO latest_scores (node_id, benchmark_id, scan_id, finished_at, pass, fail, info, skip, error)
SELECT DISTINCT ON (s.node_id, sc.benchmark_id)
       s.node_id, sc.benchmark_id, s.id, s.finished_at, sc.pass, sc.fail, sc.info, sc.skip, sc.error
FROM scores sc JOIN scans s ON s.id = sc.scan_id
WHERE s.state = 'complete'
ORDER BY s.node_id, sc.benchmark_id, s.finished_at DESC, s.id DESC;

-- +goose Down
DROP TABLE latest_scores;
