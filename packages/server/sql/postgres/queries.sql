-- Named statements of the Postgres store (the same names as sql/sqlite/queries.sql). Each
-- starts with "-- name: <name>" and takes named parameters (@param): postgres-store.ts sends
-- reads with $n parameters and writes as literals inside one multi-statement group commit.

-- name: insertToken
INSERT INTO tokens (id, secret_hash, kind, created_at, expires_at, environment, apps)
VALUES (@id, @secretHash, @kind, @createdAt, @expiresAt, @environment, @apps);

-- name: getToken
SELECT id, secret_hash AS "secretHash", kind, created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt",
  environment, apps
FROM tokens WHERE id = @id;

-- name: listTokens
SELECT id, secret_hash AS "secretHash", kind, created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt",
  environment, apps
FROM tokens ORDER BY created_at;

-- name: revokeToken
UPDATE tokens SET revoked_at = @at WHERE id = @id AND revoked_at IS NULL;

-- name: addBlobGrant
INSERT INTO blob_grants (token_id, blob_id, seq) VALUES (@tokenId, @blobId, @seq)
  ON CONFLICT (token_id, blob_id) DO UPDATE SET seq = excluded.seq;

-- name: hasBlobGrant
SELECT 1 AS granted FROM blob_grants WHERE token_id = @tokenId AND blob_id = @blobId;

-- name: trimBlobGrants
-- Keeps the token's skip + 1 newest grants (no row past the offset: nothing is deleted).
DELETE FROM blob_grants WHERE token_id = @tokenId
  AND seq < (SELECT seq FROM blob_grants WHERE token_id = @tokenId ORDER BY seq DESC LIMIT 1 OFFSET @skip);

-- name: deleteBlobGrants
DELETE FROM blob_grants WHERE token_id = @tokenId;

-- name: insertEnvironment
INSERT INTO environments (name, created_at) VALUES (@name, @createdAt) ON CONFLICT DO NOTHING;

-- name: getEnvironment
SELECT name, created_at AS "createdAt" FROM environments WHERE name = @name;

-- name: listEnvironments
SELECT name, created_at AS "createdAt" FROM environments ORDER BY name;

-- name: deleteEnvironment
DELETE FROM environments WHERE name = @name;

-- name: environmentContents
SELECT
  (SELECT count(*) FROM apps WHERE environment = @name AND state != 'stopped') AS apps,
  (SELECT count(*) FROM objects WHERE environment = @name) AS objects,
  (SELECT count(*) FROM secrets WHERE environment = @name) AS secrets;

-- name: countTokens
SELECT count(*) AS n FROM tokens WHERE kind = 'admin';

-- name: referencedBlobs
SELECT blob_id AS id FROM inputs WHERE blob_id = ANY(@ids::text[])
UNION SELECT blob_id FROM calls WHERE blob_id = ANY(@ids::text[])
UNION SELECT bundle_blob_id FROM functions WHERE bundle_blob_id = ANY(@ids::text[])
UNION SELECT bundle_blob_id FROM deployments WHERE bundle_blob_id = ANY(@ids::text[])
UNION SELECT value_blob FROM dict_entries WHERE value_blob = ANY(@ids::text[]);

-- name: insertApp
INSERT INTO apps (id, name, environment, mode, state, version, created_at, owner_session) VALUES (@id, @name, @environment, @mode, @state, @version, @createdAt, @ownerSession);

-- name: updateApp
UPDATE apps SET state = @state, version = @version, stopped_at = @stoppedAt WHERE id = @id;

-- name: getApp
SELECT id, name, environment, mode, state, version, created_at AS "createdAt", owner_session AS "ownerSession" FROM apps WHERE id = @id;

-- name: findDeployedApp
SELECT id, name, environment, mode, state, version, created_at AS "createdAt", owner_session AS "ownerSession" FROM apps WHERE environment = @environment AND name = @name AND mode = 'deployed';

-- name: findLatestApp
SELECT id, name, environment, mode, state, version, created_at AS "createdAt", owner_session AS "ownerSession" FROM apps WHERE environment = @environment AND name = @name ORDER BY (state != 'stopped') DESC, created_at DESC LIMIT 1;

-- name: listApps
SELECT id, name, environment, mode, state, version, created_at AS "createdAt", owner_session AS "ownerSession" FROM apps WHERE environment = @environment AND (state != 'stopped' OR created_at > @since) ORDER BY created_at DESC LIMIT 200;

-- name: liveApps
SELECT id, name, environment, mode, state, version, created_at AS "createdAt", owner_session AS "ownerSession" FROM apps WHERE state != 'stopped';

-- name: insertDeployment
INSERT INTO deployments (app_id, version, bundle_blob_id, functions, created_at) VALUES (@appId, @version, @bundleBlobId, @functions, @createdAt);

-- name: trimDeployments
DELETE FROM deployments WHERE app_id = @appId AND version <= (SELECT max(version) FROM deployments WHERE app_id = @appId) - @keep;

-- name: forgetApps
-- Stopped ephemeral apps no unexpired call refers to (expired calls keep only their id and
-- state), with their deployments, functions, class instances and logs: one statement.
WITH gone AS (
  SELECT id FROM apps a WHERE a.state = 'stopped' AND a.mode = 'ephemeral' AND a.stopped_at <= @before
    AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.app_id = a.id AND c.state != 'expired')
    ORDER BY a.stopped_at, a.id LIMIT @limit
), d AS (DELETE FROM deployments WHERE app_id IN (SELECT id FROM gone)),
i AS (DELETE FROM class_instances WHERE function_id IN (SELECT id FROM functions WHERE app_id IN (SELECT id FROM gone))),
f AS (DELETE FROM functions WHERE app_id IN (SELECT id FROM gone)),
l AS (DELETE FROM logs WHERE app_id IN (SELECT id FROM gone))
DELETE FROM apps WHERE id IN (SELECT id FROM gone);

-- name: listDeployments
SELECT app_id AS "appId", version, bundle_blob_id AS "bundleBlobId", functions, created_at AS "createdAt" FROM deployments WHERE app_id = @appId ORDER BY version DESC;

-- name: upsertFunction
INSERT INTO functions (id, app_id, name, version, spec, bundle_blob_id, active) VALUES (@id, @appId, @name, @version, @spec, @bundleBlobId, 1)
ON CONFLICT (app_id, name) DO UPDATE SET version = excluded.version, spec = excluded.spec, bundle_blob_id = excluded.bundle_blob_id, active = 1;

-- name: deactivateFunctions
UPDATE functions SET active = 0 WHERE app_id = @appId AND version < @version;

-- name: getFunctionByName
SELECT id, app_id AS "appId", name, version, spec, bundle_blob_id AS "bundleBlobId", active FROM functions WHERE app_id = @appId AND name = @name;

-- name: appFunctions
SELECT id, app_id AS "appId", name, version, spec, bundle_blob_id AS "bundleBlobId", active FROM functions WHERE app_id = @appId AND active = 1;

-- name: insertCall
INSERT INTO calls (id, function_id, app_id, kind, idempotency_key, parent_input_id, method, parked, state, status, created_at) VALUES (@id, @functionId, @appId, @kind, @idempotencyKey, @parentInputId, @method, @parked, 'pending', 'pending', @createdAt);

-- name: insertEndedCall
-- A call whose completion came before its insert was sent: one row in its final state, instead
-- of a pending row and an UPDATE that rewrites it and every index entry (PostgresStore.completeCall).
INSERT INTO calls (id, function_id, app_id, kind, idempotency_key, parent_input_id, method, parked, state, status, outcome, blob_id, created_at, completed_at, expires_at) VALUES (@id, @functionId, @appId, @kind, @idempotencyKey, @parentInputId, @method, @parked, @state, @status, @outcome, @blobId, @createdAt, @completedAt, @expiresAt);

-- name: insertInput
INSERT INTO inputs (id, call_id, idx, args, blob_id, state) VALUES (@id, @callId, @idx, @args, @blobId, 'pending');

-- name: updateInput
UPDATE inputs SET state = @state, attempt = @attempt, failures = @failures WHERE id = @id;

-- name: completeCall
UPDATE calls SET state = @state, status = @status, outcome = @outcome, blob_id = @blobId, completed_at = @completedAt, expires_at = @expiresAt WHERE id = @id;

-- name: deleteCall
DELETE FROM calls WHERE id = @id;

-- name: deleteInputs
DELETE FROM inputs WHERE call_id = @callId;

-- name: getCall
SELECT id, function_id AS "functionId", kind, parent_input_id AS "parentInputId", state, outcome, created_at AS "createdAt", expires_at AS "expiresAt" FROM calls WHERE id = @id;

-- name: getCallsByKeys
-- The idempotency lookups of many concurrent calls, in one round trip.
SELECT idempotency_key AS "key", id, function_id AS "functionId", kind, parent_input_id AS "parentInputId", state, outcome, created_at AS "createdAt", expires_at AS "expiresAt" FROM calls WHERE idempotency_key = ANY(@keys::text[]);

-- name: pendingCalls
SELECT id, function_id AS "functionId", kind, idempotency_key AS "idempotencyKey", parent_input_id AS "parentInputId", method, parked, created_at AS "createdAt" FROM calls WHERE state = 'pending' AND id > @after ORDER BY id LIMIT @limit;

-- name: callInputs
SELECT id, call_id AS "callId", idx, args, state, attempt, failures FROM inputs WHERE call_id = @callId ORDER BY idx;

-- name: expireCalls
UPDATE calls SET state = 'expired', status = 'expired', outcome = NULL, blob_id = NULL WHERE state IN ('done', 'cancelled') AND expires_at IS NOT NULL AND expires_at <= @now;

-- name: forgetExpiredCalls
DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE state = 'expired' AND expires_at <= @before ORDER BY expires_at LIMIT @limit);

-- name: deleteExpiredInputs
DELETE FROM inputs WHERE call_id IN (SELECT id FROM calls WHERE state = 'expired');

-- name: upsertSecret
INSERT INTO secrets (environment, name, vals, created_at) VALUES (@environment, @name, @vals, @createdAt)
ON CONFLICT (environment, name) DO UPDATE SET vals = excluded.vals, created_at = excluded.created_at;

-- name: getSecret
SELECT name, vals, created_at AS "createdAt" FROM secrets WHERE environment = @environment AND name = @name;

-- name: listSecrets
SELECT name, vals, created_at AS "createdAt" FROM secrets WHERE environment = @environment ORDER BY name;

-- name: deleteSecret
DELETE FROM secrets WHERE environment = @environment AND name = @name;

-- name: insertLog
INSERT INTO logs (app_id, ts, function_name, input_id, container_id, stream, text) VALUES (@appId, @ts, @functionName, @inputId, @containerId, @stream, @text);

-- name: tailLogs
SELECT ts, app_id AS "appId", function_name AS "functionName", input_id AS "inputId", container_id AS "containerId", stream, text FROM (SELECT * FROM logs WHERE app_id = @appId ORDER BY seq DESC LIMIT @limit) t ORDER BY seq;

-- name: trimLogs
-- Past the newest @keepLines lines, or past @keepBytes bytes of text counted from the newest.
DELETE FROM logs WHERE app_id = @appId AND seq <= GREATEST(
  coalesce((SELECT seq FROM logs WHERE app_id = @appId ORDER BY seq DESC LIMIT 1 OFFSET @keepLines), 0),
  coalesce((SELECT seq FROM (SELECT seq, sum(octet_length(text)) OVER (ORDER BY seq DESC) AS total FROM logs WHERE app_id = @appId) t WHERE total > @keepBytes ORDER BY seq DESC LIMIT 1), 0));

-- name: insertGraphInput
INSERT INTO graph_inputs (input_id, call_id, parent_input_id, function_name, task_id, status, created_at) VALUES (@inputId, @callId, @parentInputId, @functionName, NULL, 'pending', @createdAt) ON CONFLICT DO NOTHING;

-- name: insertUpdatedGraphInput
-- A graph row whose updates came before its insert was sent: inserted as they left it, one row
-- version instead of up to three (PostgresStore.updateGraphInput). Where the row is there
-- already, the same as the insert (nothing) and then updateGraphInput.
INSERT INTO graph_inputs (input_id, call_id, parent_input_id, function_name, task_id, status, created_at) VALUES (@inputId, @callId, @parentInputId, @functionName, @taskId, @status, @createdAt) ON CONFLICT (input_id) DO UPDATE SET task_id = coalesce(excluded.task_id, graph_inputs.task_id), status = excluded.status;

-- name: updateGraphInput
UPDATE graph_inputs SET task_id = coalesce(@taskId, task_id), status = @status WHERE input_id = @inputId;

-- name: graphInputsOfCall
SELECT input_id AS "inputId", call_id AS "functionCallId", function_name AS "functionName", task_id AS "taskId", status FROM graph_inputs WHERE call_id = @callId ORDER BY created_at, input_id LIMIT 10000;

-- name: graphChildren
SELECT input_id AS "inputId", call_id AS "functionCallId", function_name AS "functionName", task_id AS "taskId", status FROM graph_inputs WHERE parent_input_id = @parentInputId ORDER BY created_at, input_id LIMIT 10000;

-- name: trimGraph
DELETE FROM graph_inputs WHERE created_at < @before;

-- name: insertClassInstance
INSERT INTO class_instances (id, function_id, params, options, created_at, used_at) VALUES (@id, @functionId, @params, @options, @createdAt, @createdAt) ON CONFLICT DO NOTHING;

-- name: touchClassInstances
UPDATE class_instances SET used_at = @at WHERE id IN (SELECT unnest(@ids::text[])) AND used_at < @at;

-- name: forgetClassInstances
-- Unused since @before, and nothing pending needs the row to start it again (a parked or
-- recovered call, a map to take back after a restart).
DELETE FROM class_instances WHERE id IN (
  SELECT ci.id FROM class_instances ci WHERE ci.used_at <= @before
    AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.function_id = ci.id AND c.state = 'pending')
    AND NOT EXISTS (SELECT 1 FROM map_calls m WHERE m.function_id = ci.id)
    ORDER BY ci.used_at LIMIT @limit);

-- name: getClassInstance
SELECT id, function_id AS "functionId", params, options, created_at AS "createdAt" FROM class_instances WHERE id = @id;

-- name: parkedCalls
SELECT id, function_id AS "functionId", kind, idempotency_key AS "idempotencyKey", parent_input_id AS "parentInputId", method, parked, created_at AS "createdAt" FROM calls WHERE function_id = @functionId AND parked = 1 AND state = 'pending' ORDER BY created_at, id LIMIT @limit;

-- name: setParked
UPDATE calls SET parked = @parked WHERE id = @id;

-- name: inputsOfCalls
SELECT id, call_id AS "callId", idx, args, state, attempt, failures FROM inputs WHERE call_id = ANY(@callIds::text[]) ORDER BY call_id, idx;

-- name: trimAttempts
DELETE FROM attempts WHERE queued_at < @before;

-- name: insertAttempt
INSERT INTO attempts (input_id, call_id, attempt, container_id, queued_at, started_at, cold_start_ms, status) VALUES (@inputId, @callId, @attempt, @containerId, @queuedAt, @startedAt, @coldStartMs, 'running')
ON CONFLICT (input_id, attempt) DO UPDATE SET container_id = excluded.container_id, queued_at = excluded.queued_at, started_at = excluded.started_at, cold_start_ms = excluded.cold_start_ms, status = 'running', ended_at = NULL;

-- name: insertEndedAttempt
-- An attempt that ended before its insert was sent: inserted ended (PostgresStore.endAttempt);
-- where the row is there already, the same as insertAttempt and then endAttempt.
INSERT INTO attempts (input_id, call_id, attempt, container_id, queued_at, started_at, cold_start_ms, status, ended_at) VALUES (@inputId, @callId, @attempt, @containerId, @queuedAt, @startedAt, @coldStartMs, @status, @endedAt)
ON CONFLICT (input_id, attempt) DO UPDATE SET container_id = excluded.container_id, queued_at = excluded.queued_at, started_at = excluded.started_at, cold_start_ms = excluded.cold_start_ms, status = excluded.status, ended_at = excluded.ended_at;

-- name: endAttempt
UPDATE attempts SET status = @status, ended_at = @endedAt WHERE input_id = @inputId AND attempt = @attempt;

-- name: callAttempts
SELECT input_id AS "inputId", attempt, container_id AS "containerId", queued_at AS "queuedAt", started_at AS "startedAt", ended_at AS "endedAt", cold_start_ms AS "coldStartMs", status FROM attempts WHERE call_id = @callId ORDER BY queued_at, input_id, attempt LIMIT @limit;

-- name: callArgs
SELECT args FROM inputs WHERE call_id = @callId ORDER BY idx LIMIT 1;

-- name: callSummary
SELECT c.id, c.function_id AS "functionId", c.app_id AS "appId", c.kind, c.status, c.method, c.created_at AS "createdAt", c.completed_at AS "completedAt", f.name AS "functionName", a.name AS "appName"
FROM calls c
LEFT JOIN functions f ON f.id = split_part(c.function_id, '.', 1)
LEFT JOIN apps a ON a.id = c.app_id
WHERE c.id = @id;

-- name: releaseInputBlobs
UPDATE inputs SET blob_id = NULL WHERE call_id = @callId;

-- name: insertMapCall
INSERT INTO map_calls (id, function_id, method, parent_input_id, idempotency_key, created_at, expires_at) VALUES (@id, @functionId, @method, @parentInputId, @idempotencyKey, @createdAt, @expiresAt);

-- name: getMapCall
SELECT id, function_id AS "functionId", method, parent_input_id AS "parentInputId", idempotency_key AS "idempotencyKey", created_at AS "createdAt", expires_at AS "expiresAt" FROM map_calls WHERE id = @id;

-- name: setMapCallExpiry
UPDATE map_calls SET expires_at = @expiresAt WHERE id = @id;

-- name: orphanMapCalls
UPDATE map_calls SET expires_at = @expiresAt WHERE expires_at IS NULL;

-- name: expireMapCalls
DELETE FROM map_calls WHERE expires_at IS NOT NULL AND expires_at <= @now;
