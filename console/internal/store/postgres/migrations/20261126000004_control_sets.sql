-- +goose Up
-- A scan's controls are stored once per distinct control set and shared by every scan that
-- uses it, instead of one copy per scan. Scans created before keep their rows in scan_controls
-- (control_set_id NULL).
CREATE TABLE control_sets (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY
);
CREATE TABLE control_set_controls (
    set_id     TEXT COLLATE "C" NOT NULL REFERENCES control_sets (id),
    control_id TEXT COLLATE "C" NOT NULL,
    title      TEXT             NOT NULL,
    severity   TEXT COLLATE "C" NOT NULL,
    service    TEXT COLLATE "C" NOT NULL,
    benchmarks TEXT[]           NOT NULL,
    PRIMARY KEY (set_id, control_id)
);
ALTER TABLE scans ADD COLUMN control_set_id TEXT COLLATE "C" REFERENCES control_sets (id);

-- +goose Down
ALTER TABLE scans DROP COLUMN control_set_id;
DROP TABLE control_set_controls;
DROP TABLE control_sets;
