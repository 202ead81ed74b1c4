-- +goose Up
-- Masks leave the results they match out of scores and default views. node_ids lists the
-- nodes covered ('{}': every node); resource '' means every resource of the control. Results
-- look their masks up by control id (an anti-join probe per result in the default view, which
-- finds nothing for the many controls without a mask), and masks are few, so that index is the
-- only one.
CREATE TABLE masks (
    id         TEXT COLLATE "C"   NOT NULL PRIMARY KEY,
    control_id TEXT COLLATE "C"   NOT NULL,
    node_ids   TEXT[] COLLATE "C" NOT NULL,
    resource   TEXT COLLATE "C"   NOT NULL,
    reason     TEXT               NOT NULL,
    created_at BIGINT             NOT NULL,
    created_by TEXT               NOT NULL DEFAULT '',
    expires_at BIGINT,
    removed_at BIGINT,
    removed_by TEXT               NOT NULL DEFAULT ''
);
CREATE INDEX masks_by_control ON masks (control_id, created_at, id);

-- Web console sessions, by the SHA-256 of the cookie; they go with their user.
CREATE TABLE sessions (
    hash       BYTEA            NOT NULL PRIMARY KEY,
    user_name  TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role       TEXT             NOT NULL,
    csrf_token TEXT             NOT NULL,
    created_at BIGINT           NOT NULL,
    expires_at BIGINT           NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_name);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Results left out of a score by a mask.
ALTER TABLE scores ADD COLUMN masked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE latest_scores ADD COLUMN masked INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE latest_scores DROP COLUMN masked;
ALTER TABLE scores DROP COLUMN masked;
DROP TABLE sessions;
DROP TABLE masks;
