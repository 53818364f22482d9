-- Views for billing analysts, advertisers and fraud analysts. Columns are documented in
-- docs/warehouse.md. Every view reflects everything ingested so far and the current reviews.

-- The canonical usage records (accepted input) and the rejected input, verbatim.
CREATE OR REPLACE VIEW events AS
SELECT * EXCLUDE (reason, raw) FROM records WHERE reason IS NULL;

CREATE OR REPLACE VIEW rejected AS
SELECT run_key, file_idx, file, line, reason, raw FROM records WHERE reason IS NOT NULL;

-- Every usage record (contract 2.3): a usage event that is neither a duplicate nor a session part
-- (its own eid as `uid`; `period` is set on accepted usage events only), read from `records`,
-- or an assembled session. `parts` is 1 and `complete` NULL for a single record; `campaign`,
-- `ip`, `user_agent`, `impression_id` are NULL for a session. (Duplicates are few: leaving them
-- out is a cheap anti-join, where matching every record to its event_state row was not.)
CREATE OR REPLACE VIEW usage AS
SELECT r.eid AS uid, r.type, r.subject, r.source, r.id, r.time, r.period, r.quantity,
       r.destination, r.campaign, r.ip, r.user_agent, r.impression_id,
       NULL::VARCHAR AS session_id, 1::INTEGER AS parts, NULL::BOOLEAN AS complete,
       r.pair_key, r.minute_key
FROM records r ANTI JOIN (SELECT eid FROM event_state WHERE dup) d ON d.eid = r.eid
WHERE r.period IS NOT NULL AND r.session_id IS NULL
UNION ALL
SELECT uid, type, subject, source, id, time, period, quantity, destination, NULL, NULL, NULL, NULL,
       session_id, parts, complete, NULL, NULL
FROM sessions;

-- The latest review of each flagged record under each reason it was reviewed under (a flag
-- whose reason changes and changes back finds its earlier review again).
CREATE OR REPLACE VIEW current_reviews AS
SELECT source, id, reason, arg_max(status, seq) AS status,
       arg_max(note, seq) AS note, arg_max(reviewer, seq) AS reviewer,
       arg_max(reviewed_at, seq) AS reviewed_at
FROM flag_reviews GROUP BY source, id, reason;

-- Every record a fraud rule marks, given everything ingested. A review applies to the flag
-- with the reason it was reviewed under; new evidence that changes the reason opens a new flag.
CREATE OR REPLACE VIEW fraud_flags AS
SELECT u.uid, u.source, u.id, u.type, u.subject, u.campaign, u.period, u.time, f.reason,
       coalesce(r.status, 'open') AS status, r.note, r.reviewer, r.reviewed_at
FROM fraud f JOIN usage u USING (uid)
LEFT JOIN current_reviews r ON r.source = u.source AND r.id = u.id AND r.reason = f.reason;

-- Every priced usage record with its outcome: a fraud flag not dismissed makes it invalid,
-- else an unbilled reason makes it unbilled, else it is rated.
CREATE OR REPLACE VIEW rating_outcomes AS
SELECT r.*, fl.reason AS fraud_reason, fl.status AS flag_status,
       CASE WHEN fl.reason IS NOT NULL AND fl.status <> 'dismissed' THEN 'invalid'
            WHEN r.unbilled_reason IS NOT NULL THEN 'unbilled' ELSE 'rated' END AS outcome,
       CASE WHEN fl.reason IS NOT NULL AND fl.status <> 'dismissed' THEN fl.reason
            ELSE r.unbilled_reason END AS reason
FROM rating r LEFT JOIN fraud_flags fl USING (uid);

-- Every usage record (a non-duplicate usage event, or an assembled session) with its outcome.
CREATE OR REPLACE VIEW usage_outcomes AS
SELECT u.* EXCLUDE (pair_key, minute_key),  -- (the fraud groups' hash keys are internal)
       ro.account, ro.plan, ro.version, ro.effective_from, ro.currency, ro.model,
       ro.unbilled_reason, ro.rounded_quantity, ro.price, ro.off_peak, ro.amount,
       ro.fraud_reason, ro.flag_status, ro.outcome, ro.reason
FROM usage u JOIN rating_outcomes ro USING (uid);

-- Every input record with its one outcome (contract 2): what `export reconcile` counts.
CREATE OR REPLACE VIEW record_outcomes AS
SELECT e.eid, e.run_key, e.file_idx, e.line, e.file, e.source, e.id, e.type, e.subject, e.time,
       CASE WHEN st.dup THEN 'duplicate' WHEN e.type LIKE 'quality.%' THEN 'quality'
            ELSE uo.outcome END AS outcome,
       CASE WHEN st.dup OR e.type LIKE 'quality.%' THEN NULL ELSE uo.reason END AS reason,
       st.uid
FROM events e JOIN event_state st USING (eid)
LEFT JOIN usage_outcomes uo ON uo.uid = st.uid
UNION ALL
SELECT NULL, run_key, file_idx, line, file, NULL, NULL, NULL, NULL, NULL, 'rejected', reason, NULL
FROM rejected;

CREATE OR REPLACE VIEW accepted_events AS
SELECT e.*, o.outcome, o.reason, o.uid
FROM events e JOIN record_outcomes o USING (eid);

CREATE OR REPLACE VIEW rated_records AS
SELECT * EXCLUDE (unbilled_reason, fraud_reason, flag_status, outcome, reason)
FROM usage_outcomes WHERE outcome = 'rated';

CREATE OR REPLACE VIEW unbilled_records AS
SELECT * EXCLUDE (fraud_reason, flag_status, outcome, amount)
FROM usage_outcomes WHERE outcome = 'unbilled';

CREATE OR REPLACE VIEW rejected_records AS
SELECT run_key, file_idx, file, line, reason, raw, try(decode(raw)) AS text FROM rejected;
