-- Sealed chunks of recent history a device sends a browser it links (service::links); they
-- go with their link.
CREATE TABLE link_history (
    link_id TEXT NOT NULL,
    idx     INTEGER NOT NULL,
    chunk   TEXT NOT NULL,
    PRIMARY KEY (link_id, idx)
) WITHOUT ROWID;
