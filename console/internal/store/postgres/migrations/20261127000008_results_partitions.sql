-- +goose Up
-- Results are split into 16 partitions by a hash of scan_id. Every query of results names its
-- scan (a page, the counts, a scan's deletion), or probes one scan at a time from the scans of
-- a node (a control's history), so each reads one partition. What the split buys is ingest:
-- PostgreSQL 15 grows a table and its indexes one page at a time under a lock per relation,
-- and with four batches COPYed at once into one table that lock was where a quarter of the
-- ingest connections' time went (sampled wait event Lock:extend). Concurrent batches belong to
-- different scans, so they now mostly grow different relations: on the same loaded database the
-- waits went from 65 of 225 samples to none and ingest end to end rose by 4-10%.
--
-- The primary key loses node_id: a scan belongs to one node (StoreBatch refuses a batch from
-- any other), so (scan_id, control_id, resource) names a result exactly as the four columns
-- did. The shorter key is about a quarter of each index entry, and ingest end to end rose by
-- another 14-18% with it (155,000-157,000 against 131,000-137,000 results/s, alternating runs).
-- Each partition has its part of the key's index; scan_id, the partition key, is the key's
-- first column, so the key is unique over the whole table.
--
-- The table keeps its name and columns. A database that holds results already copies them
-- across in this migration's transaction: about 8 s per million results on two cores
-- (docs/operations.md, upgrades).
ALTER TABLE results RENAME TO results_unpartitioned;
ALTER TABLE results_unpartitioned RENAME CONSTRAINT results_pkey TO results_unpartitioned_pkey;
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
    PRIMARY KEY (scan_id, control_id, resource)
) PARTITION BY HASH (scan_id);
CREATE TABLE results_p00 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 0);
CREATE TABLE results_p01 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 1);
CREATE TABLE results_p02 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 2);
CREATE TABLE results_p03 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 3);
CREATE TABLE results_p04 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 4);
CREATE TABLE results_p05 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 5);
CREATE TABLE results_p06 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 6);
CREATE TABLE results_p07 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 7);
CREATE TABLE results_p08 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 8);
CREATE TABLE results_p09 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 9);
CREATE TABLE results_p10 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 10);
CREATE TABLE results_p11 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 11);
CREATE TABLE results_p12 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 12);
CREATE TABLE results_p13 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 13);
CREATE TABLE results_p14 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 14);
CREATE TABLE results_p15 PARTITION OF results FOR VALUES WITH (MODULUS 16, REMAINDER 15);
INSERT INTO results SELECT scan_id, control_id, resource, node_id, status, severity, service, reason, evidence
FROM results_unpartitioned;
DROP TABLE results_unpartitioned;

-- +goose Down
ALTER TABLE results RENAME TO results_partitioned;
ALTER TABLE results_partitioned RENAME CONSTRAINT results_pkey TO results_partitioned_pkey;
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
INSERT INTO results SELECT scan_id, control_id, resource, node_id, status, severity, service, reason, evidence
FROM results_partitioned;
DROP TABLE results_partitioned;
