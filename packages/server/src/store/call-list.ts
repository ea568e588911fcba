import type { CallListQuery } from "./store.js";

/**
 * The calls list's SQL (SQLite's dialect; the Postgres store renumbers it), built from fixed fragments: each filter adds one condition, so each
 * combination has a plan that an index in 050-dashboard.sql serves (newest first, cursor on
 * (created_at, id): a page costs the same at the start as ten million rows in).
 */
export function callListSql(q: CallListQuery): { sql: string; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: q.limit };
  if (q.appId !== undefined) {
    where.push("c.app_id = @appId");
    params.appId = q.appId;
  }
  if (q.functionId !== undefined) {
    where.push("c.function_id = @functionId");
    params.functionId = q.functionId;
  }
  if (q.status !== undefined) {
    where.push("c.status = @status");
    params.status = q.status;
  }
  if (q.since !== undefined) {
    where.push("c.created_at >= @since");
    params.since = q.since;
  }
  if (q.until !== undefined) {
    where.push("c.created_at < @until");
    params.until = q.until;
  }
  if (q.before !== undefined) {
    where.push("(c.created_at, c.id) < (@beforeAt, @beforeId)");
    params.beforeAt = q.before.createdAt;
    params.beforeId = q.before.id;
  }
  const sql = `SELECT c.id, c.function_id AS functionId, c.app_id AS appId, c.kind, c.status, c.method,
    c.created_at AS createdAt, c.completed_at AS completedAt, f.name AS functionName, a.name AS appName
  FROM calls c
  LEFT JOIN functions f ON f.id = (CASE WHEN instr(c.function_id, '.') > 0
    THEN substr(c.function_id, 1, instr(c.function_id, '.') - 1) ELSE c.function_id END)
  LEFT JOIN apps a ON a.id = c.app_id
  ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
  ORDER BY c.created_at DESC, c.id DESC LIMIT @limit`;
  return { sql, params };
}
