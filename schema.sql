-- The schema of one repository (one Durable Object). Applied every time the object starts:
-- every statement must be idempotent. Object ids are stored as 20-byte BLOBs.

-- Small settings, e.g. key 'HEAD' = 'refs/heads/main'. The repository exists once 'HEAD' is set.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Refs; rowid order is creation order. peeled holds what an annotated tag finally points at.
CREATE TABLE IF NOT EXISTS refs (
    name TEXT PRIMARY KEY,
    oid BLOB NOT NULL,
    peeled BLOB
);

-- Stored packs. state is 'pending' while a push streams in, then 'live' (named pack-<name>.pack).
-- A repack writes its pack as 'repack' and makes it live when done; the packs it replaced
-- become 'retired' at time retired (seconds since the epoch): no longer listed, still served
-- by name to readers that listed them before, and deleted once no reader can hold them.
-- Store::open adds retired to a table made before it existed.
CREATE TABLE IF NOT EXISTS packs (
    id INTEGER PRIMARY KEY,
    name TEXT UNIQUE,
    state TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    idx_size INTEGER NOT NULL DEFAULT 0,
    retired INTEGER
);

-- The bytes of each pack (kind 0) and of its .idx (kind 1), in rows of at most 1 MiB.
CREATE TABLE IF NOT EXISTS pack_chunks (
    pack INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (pack, kind, seq)
);

-- The objects stored loose (pack IS NULL): a row here is what makes a loose object
-- visible; it is written when its push is accepted. Packed objects are in midx_pages
-- instead (rows of a repository made before those are moved there by Store::open).
-- size is the object's size in bytes (what `blob:limit` filters by); NULL in rows indexed
-- before it was recorded (Store::open adds the column to such a table). depth is unused
-- for loose objects.
CREATE TABLE IF NOT EXISTS objects (
    oid BLOB PRIMARY KEY,
    type INTEGER NOT NULL,
    pack INTEGER,
    offset INTEGER,
    size INTEGER,
    depth INTEGER
) WITHOUT ROWID;

-- The multi-pack index: every packed object's id, type, delta depth, pack, offset and
-- size, in records of 42 bytes sorted by id, a few hundred to a page (src/store/midx.rs).
-- first is a lower bound of the page's ids (the lowest page's may be empty): an object's
-- page is the one with the greatest first not above its id. A push writes a row per page
-- its objects fall in, not a row per object.
CREATE TABLE IF NOT EXISTS midx_pages (
    first BLOB PRIMARY KEY,
    data BLOB NOT NULL
) WITHOUT ROWID;

-- Loose objects: exactly the bytes of git's loose object file. push names the pack row of
-- the push that wrote it, so an interrupted push's leftovers can be found. retired is when a
-- repack packed the object: the file is still served to readers that started before, until
-- it is deleted as retired packs are. WITHOUT ROWID, so that a file written is one row, not
-- a row and its key's index entry (Store::open makes an older table so once it is empty).
CREATE TABLE IF NOT EXISTS loose (
    oid BLOB PRIMARY KEY,
    push INTEGER NOT NULL,
    data BLOB NOT NULL,
    retired INTEGER
) WITHOUT ROWID;

-- The commit graph, recorded when a push is indexed, so history walks need not inflate
-- commits: in commit_pages (src/store/commit_graph.rs: records of 69 bytes, id, time and up
-- to two parents, sorted by id, pages as in midx_pages), and here, a row each, the commits
-- of more than two parents, and those of a repository made before the pages until
-- Store::open moves them. parents is the concatenation of the parents' 20-byte ids.
CREATE TABLE IF NOT EXISTS commit_pages (
    first BLOB PRIMARY KEY,
    data BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commits (
    oid BLOB PRIMARY KEY,
    time INTEGER NOT NULL,
    parents BLOB NOT NULL
) WITHOUT ROWID;

-- What indexing a push in progress knows, kept here rather than in memory so that a push
-- of any number of objects is indexed in bounded memory. Rows belong to the push's pending
-- pack row and go when the push is accepted or discarded.

-- One row per pack entry. type and oid are NULL while a delta waits for its base, named by
-- base_offset (OFS_DELTA) or base_oid (REF_DELTA).
CREATE TABLE IF NOT EXISTS push_entries (
    push INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    crc INTEGER NOT NULL,
    type INTEGER,
    oid BLOB,
    size INTEGER NOT NULL,
    depth INTEGER NOT NULL,
    base_offset INTEGER,
    base_oid BLOB,
    PRIMARY KEY (push, offset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS push_entries_oid ON push_entries (push, oid);
CREATE INDEX IF NOT EXISTS push_entries_waiting ON push_entries (push, base_offset, base_oid)
    WHERE oid IS NULL;

-- The objects that a push's trees, commits and tags link to (checked when the push ends), in
-- pages of 21-byte records: the id, then the type git parses it as (0 where it need only
-- exist: a file of a tree). A page holds tens of thousands, so a push writes a row per page,
-- not per link, as the table of a row per link that this one replaces did.
CREATE TABLE IF NOT EXISTS push_link_pages (
    push INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (push, seq)
);
DROP TABLE IF EXISTS push_links;

-- The commits of a push, copied into commits when it is accepted.
CREATE TABLE IF NOT EXISTS push_commits (
    push INTEGER NOT NULL,
    oid BLOB NOT NULL,
    time INTEGER NOT NULL,
    parents BLOB NOT NULL,
    PRIMARY KEY (push, oid)
) WITHOUT ROWID;

-- Repository tokens (access control): only the SHA-256 of each token is kept. scope is
-- 'read' or 'write'; expires (seconds since the epoch) is NULL for one that never expires.
-- The repository's settings live in meta: 'visibility' ('public' or 'private') and
-- 'protect' (the protected ref patterns, as JSON).
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    hash BLOB NOT NULL,
    scope TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER
);

-- A repack in progress (maintenance): every object reachable from the refs, found by a walk
-- that starts in memory and keeps its queue here once it moves to rows (past its budget,
-- which is smaller once a pack is written, or after a restart; walked = 0: its links are
-- not listed yet), then written to the
-- new pack in seq order. type, size, pack, at and stored_depth are copied from objects (pack
-- NULL: loose); name_hash groups objects of the same file name for the delta search; offset,
-- crc and depth (of its delta chain) say where it went.
CREATE TABLE IF NOT EXISTS repack_objects (
    oid BLOB PRIMARY KEY,
    type INTEGER NOT NULL,
    size INTEGER,
    pack INTEGER,
    at INTEGER,
    name_hash INTEGER NOT NULL,
    stored_depth INTEGER,
    walked INTEGER NOT NULL,
    seq INTEGER,
    offset INTEGER,
    crc INTEGER,
    depth INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repack_unwalked ON repack_objects (walked) WHERE walked = 0;
CREATE INDEX IF NOT EXISTS repack_order ON repack_objects (seq) WHERE seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS repack_stored ON repack_objects (pack, at);

-- Objects that a repack found unreachable from every ref, and since when: pruned once that
-- is longer ago than the grace period.
CREATE TABLE IF NOT EXISTS unreachable (
    oid BLOB PRIMARY KEY,
    since INTEGER NOT NULL
) WITHOUT ROWID;

-- Git LFS objects this repository holds: their bytes are in the LFS bucket (R2) under
-- '<repo>/<oid>', and a row is written when a client verifies its upload and the bucket
-- holds the object at that size. The counts GET api shows are kept in meta
-- ('lfs_objects', 'lfs_bytes') so that it reads two rows, not one per object.
CREATE TABLE IF NOT EXISTS lfs_objects (
    oid TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    at INTEGER NOT NULL
) WITHOUT ROWID;

-- Git LFS locks: one per path. owner is the token id that took it ('admin' for the admin
-- token, 'anonymous' where anyone may push); locked_at is seconds since the epoch.
CREATE TABLE IF NOT EXISTS lfs_locks (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    locked_at INTEGER NOT NULL
);

-- Webhooks (POST api/hooks): where events go, what signs them (NULL: unsigned), the
-- events asked for (a JSON array of names), and how many events were not queued for the
-- hook because 1,000 deliveries were waiting already.
CREATE TABLE IF NOT EXISTS hooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT,
    events TEXT NOT NULL,
    created INTEGER NOT NULL,
    dropped INTEGER
);

-- An event's JSON body, kept once however many hooks it goes to; it goes with its last
-- delivery.
CREATE TABLE IF NOT EXISTS hook_events (
    id INTEGER PRIMARY KEY,
    payload TEXT NOT NULL
);

-- One event for one hook, written in the transaction of what caused it and sent from the
-- alarm: body is its hook_events row, next_at when it is due (NULL once delivered or given
-- up, as state then says), attempts a JSON array of {"at", "status", "answer"}. The last
-- 100 ended ones of each hook are kept for GET api/hooks/<id>/deliveries.
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    hook TEXT NOT NULL,
    event TEXT NOT NULL,
    body INTEGER NOT NULL,
    created INTEGER NOT NULL,
    next_at INTEGER,
    state TEXT NOT NULL,
    attempts TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_of_body ON deliveries (body);
CREATE INDEX IF NOT EXISTS deliveries_waiting ON deliveries (hook) WHERE next_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_of_hook ON deliveries (hook, created);
