-- The warehouse's stored tables (DuckDB). Facts are append-only: `events` (accepted records in
-- the canonical usage-record schema) and `rejected` (verbatim). Everything else is derived from
-- them and the recorded rule set, and can be rebuilt at any time.
-- Input order of a record: (run_key, file_idx, line). run_key grows with every replay/publish.

CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE TABLE IF NOT EXISTS runs (
  run_key      BIGINT PRIMARY KEY,   -- orders runs: nanoseconds since the epoch at start
  command      VARCHAR NOT NULL,     -- replay | stream
  files        VARCHAR[],
  records      BIGINT,               -- input records of the run (reconcile's `input`)
  rules_digest VARCHAR,
  finished_at  TIMESTAMP
);

CREATE TABLE IF NOT EXISTS rule_sets (
  seq         BIGINT PRIMARY KEY,    -- last recorded = highest
  digest      VARCHAR NOT NULL,
  source      VARCHAR,
  command     VARCHAR,
  recorded_at TIMESTAMP,
  body        VARCHAR NOT NULL       -- canonical JSON of the compiled rule set
);

-- Every input record, once: an accepted one in the canonical usage-record schema (reason NULL,
-- typed columns set), a rejected one verbatim (reason and raw set). One table, so validation
-- writes each batch once; the views `events` and `rejected` (schemas/views.sql) split it.
-- `id` and `ip` are stored uncompressed: nearly every value is distinct, so DuckDB's string
-- compression saves little room (62 against 80 MB per million records) for a fifth of the
-- cost of writing the table.
CREATE TABLE IF NOT EXISTS records (
  eid           BIGINT NOT NULL,     -- surrogate key, assigned in ingest order
  run_key       BIGINT NOT NULL,
  file_idx      INTEGER NOT NULL,
  line          BIGINT NOT NULL,
  file          VARCHAR,
  reason        VARCHAR,             -- NULL: accepted; else malformed | missing_field |
                                     -- unknown_type | bad_time | bad_data
  raw           BLOB,                -- a rejected record verbatim (a Parquet row: as JSON)
  source        VARCHAR,
  id            VARCHAR USING COMPRESSION uncompressed,
  type          VARCHAR,
  time          TIMESTAMP,           -- UTC, microseconds
  subject       VARCHAR,             -- usage types only
  campaign      VARCHAR,
  ip            VARCHAR USING COMPRESSION uncompressed,
  user_agent    VARCHAR,
  impression_id VARCHAR,
  subscriber    VARCHAR,
  destination   VARCHAR,
  quantity      DECIMAL(38,9),       -- 1, duration_s or bytes; NULL for quality records
  session_id    VARCHAR,
  session_seq   BIGINT,
  session_last  BOOLEAN,
  incident_id   VARCHAR,
  service       VARCHAR,
  state         VARCHAR,
  planned       BOOLEAN,
  accounts      VARCHAR[],
  region        VARCHAR,
  ok            BOOLEAN,
  latency_ms    DOUBLE,
  key_hash      UBIGINT,             -- accepted: hash(source, id), so that the records sharing a
                                     -- (source, id) with new ones are found by an integer scan
  -- Accepted records, for the usage view (schemas/views.sql), which reads a single usage record
  -- from here rather than from a copy: the UTC month of `time`, and the integer keys of the
  -- fraud rules' groups, so that re-judging the groups a few new ads touch reads one integer
  -- column, not the strings. A hash: two groups may share one, which only widens what is
  -- re-judged (each group is still judged whole).
  period        VARCHAR,             -- YYYY-MM
  pair_key      UBIGINT,             -- ads: hash(subject, impression id: a click's
                                     -- impression_id, else id)
  minute_key    UBIGINT              -- clicks: hash(ip, UTC minute of time)
);

-- A fraud analyst's decision on a flag, and its audit trail.
CREATE TABLE IF NOT EXISTS flag_reviews (
  source     VARCHAR NOT NULL,
  id         VARCHAR NOT NULL,
  status     VARCHAR NOT NULL,       -- dismissed | confirmed
  reason     VARCHAR,                -- the flag's reason when reviewed
  note       VARCHAR,
  reviewer   VARCHAR,
  reviewed_at TIMESTAMP,
  seq        BIGINT                  -- order of reviews; the latest per (source, id) counts
);

-- Streaming: next offset to consume per topic partition, written with the batch it ends.
CREATE TABLE IF NOT EXISTS stream_offsets (
  cluster   VARCHAR NOT NULL,        -- the broker's cluster id: offsets of another log don't apply
  topic     VARCHAR NOT NULL,
  partition INTEGER NOT NULL,
  next_offset BIGINT NOT NULL,
  PRIMARY KEY (cluster, topic, partition)
);

-- The outcome feed's outbox (docs/streaming.md, "Outcome topics"): which records ('record', an
-- eid) and usage records ('usage', a uid) a write re-judged, under the sequence number of that
-- write, so the worker publishes their outcomes after the commit. Written only while the feed
-- is on (meta 'feed' = 'on'); a row leaves once its messages are acknowledged by the broker.
CREATE SEQUENCE IF NOT EXISTS outbox_seq;
CREATE TABLE IF NOT EXISTS outbox (
  seq  BIGINT NOT NULL,
  kind VARCHAR NOT NULL,             -- record | usage
  id   BIGINT NOT NULL,              -- eid | uid
  old  BOOLEAN NOT NULL              -- re-judged, not new: its previous outcome may need retracting
);

CREATE TABLE IF NOT EXISTS invoices (
  period         VARCHAR NOT NULL,
  invoice_number VARCHAR NOT NULL,
  account        VARCHAR NOT NULL,
  currency       VARCHAR NOT NULL,
  subtotal       DECIMAL(38,2) NOT NULL,
  tax            DECIMAL(38,2) NOT NULL,
  total          DECIMAL(38,2) NOT NULL,
  rules_digest   VARCHAR,
  billed_at      TIMESTAMP
);

-- What each `bill` issued: `invoices` holds a period's current invoices only (billing again
-- replaces them), so every invoice that differs from the account's last revision (or is its
-- first) is also kept here, as `export invoices` printed it, and so is an invoice a later bill
-- withdrew (no invoice for the account any more). Append-only: re-billing changes no row.
CREATE TABLE IF NOT EXISTS invoice_revisions (
  period         VARCHAR NOT NULL,
  account        VARCHAR NOT NULL,
  revision       INTEGER NOT NULL,     -- 1, 2, ... per (period, account)
  invoice_number VARCHAR,              -- NULL: withdrawn
  currency       VARCHAR,
  total          DECIMAL(38,2),
  invoice        VARCHAR,              -- the invoice's JSON object as `export invoices` gives it
  rules_digest   VARCHAR,
  billed_at      TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS invoice_lines (
  period       VARCHAR NOT NULL,
  account      VARCHAR NOT NULL,
  line_no      INTEGER NOT NULL,
  kind         VARCHAR NOT NULL,       -- fee | usage | minimum | credit
  type         VARCHAR,                -- usage lines
  quantity     DECIMAL(38,9),          -- usage lines: sum of rounded quantities
  availability DECIMAL(38,3),          -- credit lines
  amount       DECIMAL(38,2) NOT NULL
);

CREATE TABLE IF NOT EXISTS sla_availability (
  period          VARCHAR NOT NULL,
  account         VARCHAR NOT NULL,
  sla             VARCHAR NOT NULL,
  service         VARCHAR NOT NULL,
  downtime_s      DECIMAL(38,6) NOT NULL,
  period_s        BIGINT NOT NULL,
  availability    DECIMAL(38,3) NOT NULL, -- percent, rounded half up for display
  credit_percent  DECIMAL(38,6) NOT NULL,
  credit          DECIMAL(38,2) NOT NULL
);

-- Derived state, rebuilt from the facts above and the recorded rule set on every replay.

-- Per accepted record: duplicate (contract 2.2), and the usage record it belongs to (its own
-- eid; a session part: the session's; NULL for duplicates and quality records).
CREATE TABLE IF NOT EXISTS event_state (eid BIGINT, first_id BOOLEAN, dup BOOLEAN, uid BIGINT);

-- Assembled sessions (contract 2.3), one row per session. With the single usage records (a
-- non-duplicate usage event that is no session part, read from `records`: not copied, since
-- storing a million wide rows twice cost a fifth of a replay) they make the view `usage`.
CREATE TABLE IF NOT EXISTS sessions (
  uid           BIGINT,    -- eid of the session's first-ingested part
  type          VARCHAR,
  subject       VARCHAR,
  source        VARCHAR,   -- of the session's earliest part
  id            VARCHAR,
  time          TIMESTAMP, -- its earliest part's
  period        VARCHAR,   -- YYYY-MM, UTC month of `time`
  quantity      DECIMAL(38,9),
  destination   VARCHAR,
  session_id    VARCHAR,
  parts         INTEGER,
  complete      BOOLEAN    -- parts 1..n present and part n last
);

-- Fraud marks (contract 2.4): the first rule that marks a click or impression.
CREATE TABLE IF NOT EXISTS fraud (uid BIGINT, reason VARCHAR NOT NULL);

-- Pricing of every usage record (fraud applies on top, in the views).
CREATE TABLE IF NOT EXISTS rating (
  uid             BIGINT,
  account         VARCHAR,
  plan            VARCHAR,
  version         INTEGER,        -- index of the plan version in force (0-based)
  effective_from  TIMESTAMP,
  currency        VARCHAR,
  model           VARCHAR,        -- per_unit | graduated | volume
  unbilled_reason VARCHAR,        -- unknown_account | no_contract | no_tariff | no_destination
  rounded_quantity DECIMAL(38,9), -- after increment and minimum
  price           DECIMAL(38,12), -- per_unit: the price applied, before the off-peak factor
  off_peak        BOOLEAN,
  amount          DECIMAL(38,6)   -- per_unit amount, half up to 6 places; NULL when tiered
);
