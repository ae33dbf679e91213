/**
 * The tasks-api client for the front end: one method per operation over the client generated from
 * openapi/tasks.yaml (./schema.ts, openapi-fetch), each answering the front end's ApiResponse, never throwing
 * for an HTTP or network failure; `listAllTasks`, which yields every task and throws TasksClientError; and
 * `syncTasks`, which follows the changes feed to its end. Every write carries an `Idempotency-Key`, so that it can be
 * sent again when its answer is lost without being done twice.
 */
import createClient from "openapi-fetch";

import { apiRoot } from "./apiRoot.js";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

type Schemas = components["schemas"];
export type Task = Schemas["Task"];
export type TaskList = Schemas["TaskList"];
export type TaskSort = Schemas["TaskSort"];
export type TaskPriority = Schemas["Priority"];
export type TaskMetrics = Schemas["TaskMetrics"];
export type TaskCreate = Schemas["TaskCreate"];
/**
 * A full replace: an omitted `description` or `due_at` becomes null, omitted `tags` none and an omitted `priority`
 * Medium (nothing is "left unchanged").
 */
export type TaskUpdate = Schemas["TaskUpdate"];
/**
 * One entry of the changes feed: a task in its latest state, or the deletion of one. The spec's schema has `task`
 * and `deleted_at` both optional; which one comes is what `deleted` says, so it is typed here as a union that
 * narrows on `deleted`.
 */
export type TaskChange =
  | { id: string; deleted: false; task: Task }
  | { id: string; deleted: true; /** When it was deleted (RFC 3339, UTC). */ deleted_at: string };
/** One page of the changes feed, as the service answers it. */
export type TaskChanges = Omit<Schemas["TaskChanges"], "changes"> & { changes: TaskChange[] };
/** What `syncTasks` answers: every change since the token it was given, oldest first, and the token to keep. */
export interface TaskSync {
  /** Apply them in this order: a task that changed again later is given in its latest state, once. */
  changes: TaskChange[];
  /** The `since` for the next sync. */
  nextSince: string;
}
export type Problem = Schemas["Problem"];
export type FieldError = Schemas["FieldError"];

/** The front end's error codes. */
export type ErrorCode =
  | "AUTH_FAILED"
  | "ACCESS_DENIED"
  | "NOT_FOUND"
  | "VALIDATION_ERROR"
  | "PRECONDITION_FAILED"
  /** A write that may or may not have been done: read the task back, or send it again with its `idempotencyKey`. */
  | "OUTCOME_UNKNOWN"
  /** The `idempotencyKey` given was already used for another write; nothing was changed. */
  | "IDEMPOTENCY_KEY_REUSED"
  /** `syncTasks`: the token is older than the service keeps deletions; sync again without it, from scratch. */
  | "SYNC_EXPIRED"
  | "BACKEND_UNAVAILABLE";

export interface ApiError {
  code: ErrorCode;
  /** What the service said (the problem's `detail`); a default for the code when it said nothing. */
  message: string;
  /** The HTTP status, when the service answered. */
  status?: number;
  fieldErrors?: FieldError[];
  /** The service's id for the request (its log lines carry it). */
  requestId?: string;
  /**
   * The `Idempotency-Key` a failed write was sent with. Passed back as `idempotencyKey`, the same write is sent
   * again and done at most once in all; a new call without it is a new write.
   */
  idempotencyKey?: string;
}

export type ApiResponse<T> =
  | {
      success: true;
      data: T;
      etag?: string;
      /** The service had already done this write (an earlier attempt with the same key): this is its answer. */
      replayed?: true;
    }
  | { success: false; error: ApiError };

/** A conditional get whose `If-None-Match` named the task's current ETag: the copy the caller has is current. */
export interface NotModified {
  success: true;
  notModified: true;
  etag: string;
}

/**
 * The list's filters, sort and page, as the spec declares them: `completed`, `q`, `priority`, `tags` (every one of
 * them), `sort`, `limit` and `cursor`; and the original front end's spellings (`status`, `search`, `sort_by` with
 * `sort_order`, `page` with `page_size`), of which one spelling of a thing may be sent, not both.
 */
export type ListQuery = NonNullable<operations["list_tasks"]["parameters"]["query"]>;

export interface WriteOptions {
  /**
   * The write's `Idempotency-Key` (1-255 visible ASCII characters); by default a new random UUID for each call.
   * Give one to send a write again later (the `idempotencyKey` of its error, or a key kept with a queued write): the
   * service does it once and answers every copy with the same answer, `replayed: true` on the copies.
   */
  idempotencyKey?: string;
}

export interface Conditional extends WriteOptions {
  /** Apply the change only if the task is still at this ETag; otherwise PRECONDITION_FAILED (412). */
  ifMatch?: string;
}

export interface TasksClientOptions {
  /**
   * The API root, e.g. `http://127.0.0.1:8000/api` (process.env.BACKEND_URL read in server code); the service's
   * origin is taken too, and `/api` added. Not http(s), with a query or fragment, or naming a path under the API
   * root: createTasksClient throws a TypeError saying so.
   */
  baseUrl: string;
  /** The bearer token for each request (Better Auth's JWT), if the service requires one. */
  getToken?: () => string | undefined | null | Promise<string | undefined | null>;
  /** Milliseconds before a request is given up as BACKEND_UNAVAILABLE (default 10,000); each retry has its own. */
  timeoutMs?: number;
  /**
   * How many times a write, or a page of `syncTasks`, is sent again after a network failure, a timeout, a 502, 503
   * or 504, or a 409 IDEMPOTENCY_KEY_IN_PROGRESS (default 2; 0 sends each request once). A write is sent again with
   * the same `Idempotency-Key`, so the service does it at most once. Other reads are sent once.
   */
  retries?: number;
  /** The wait before the first retry in milliseconds, doubled for each next one, with jitter (default 250). */
  retryDelayMs?: number;
  /** The longest wait before a retry, a `Retry-After` the service sent included (default 5,000). */
  maxRetryDelayMs?: number;
  fetch?: typeof globalThis.fetch;
}

const MESSAGES: Record<ErrorCode, string> = {
  AUTH_FAILED: "You are not signed in, or your session has ended. Please sign in again.",
  ACCESS_DENIED: "Access denied. You can only access your own tasks.",
  NOT_FOUND: "The task was not found. It may have been deleted.",
  VALIDATION_ERROR: "Some of the information is not valid.",
  PRECONDITION_FAILED: "The task was changed elsewhere. Reload it and try again.",
  OUTCOME_UNKNOWN: "The change may or may not have been saved. Reload your tasks to check before trying again.",
  IDEMPOTENCY_KEY_REUSED: "This request repeated an earlier, different change. Please try again.",
  SYNC_EXPIRED: "The tasks kept here are too old to bring up to date. They must be loaded again in full.",
  BACKEND_UNAVAILABLE: "The service is unavailable right now. Please try again shortly.",
};

/** The `error_code` of a problem the service answered (a proxy's error page has none). */
function serviceCode(problem: unknown): string | undefined {
  const code = typeof problem === "object" && problem !== null ? (problem as Partial<Problem>).error_code : undefined;
  return typeof code === "string" ? code : undefined;
}

function codeFor(status: number, service: string | undefined): ErrorCode {
  if (status === 401) return "AUTH_FAILED";
  if (status === 403) return "ACCESS_DENIED";
  if (status === 404) return "NOT_FOUND";
  if (status === 412) return "PRECONDITION_FAILED";
  if (status === 410) return "SYNC_EXPIRED";
  // Another request with the same key is still doing this write: whether it will succeed is not known yet.
  if (status === 409 && service === "IDEMPOTENCY_KEY_IN_PROGRESS") return "OUTCOME_UNKNOWN";
  if (status === 422 && service === "IDEMPOTENCY_KEY_REUSED") return "IDEMPOTENCY_KEY_REUSED";
  if (status === 503 && service === "OUTCOME_UNKNOWN") return "OUTCOME_UNKNOWN";
  if (status >= 500) return "BACKEND_UNAVAILABLE";
  return "VALIDATION_ERROR"; // 400, 413, 415, 422 and any other refusal of the request as sent
}

function failure(response: Response, problem: unknown): { success: false; error: ApiError } {
  const code = codeFor(response.status, serviceCode(problem));
  const details = (typeof problem === "object" && problem !== null ? problem : {}) as Partial<Problem>;
  const message = typeof details.detail === "string" && details.detail.trim() ? details.detail : MESSAGES[code];
  const error: ApiError = { code, message, status: response.status };
  if (details.field_errors?.length) error.fieldErrors = details.field_errors;
  const requestId = response.headers.get("X-Request-ID");
  if (requestId) error.requestId = requestId;
  return { success: false, error };
}

function unavailable(): { success: false; error: ApiError } {
  return { success: false, error: { code: "BACKEND_UNAVAILABLE", message: MESSAGES.BACKEND_UNAVAILABLE } };
}

function success<T>(data: T, response: Response): ApiResponse<T> {
  const answer: ApiResponse<T> = { success: true, data };
  const etag = response.headers.get("ETag");
  if (etag) answer.etag = etag;
  if (response.headers.get("Idempotent-Replayed") === "true") answer.replayed = true;
  return answer;
}

type Sent = { response: Response; error?: unknown };

/** An answer that another attempt may change: the request never got one, or the service or a proxy could not give
 * one now. A 500 is not among them: the same request would most likely fail the same way. */
function transient(sent: Sent | null): boolean {
  if (!sent) return true;
  const { status } = sent.response;
  if (status === 502 || status === 503 || status === 504) return true;
  return status === 409 && serviceCode(sent.error) === "IDEMPOTENCY_KEY_IN_PROGRESS";
}

/** `Retry-After` in ms: delay-seconds or an HTTP date (RFC 9110 10.2.3); undefined if absent or malformed. */
function retryAfter(response: Response | undefined): number | undefined {
  const value = response?.headers.get("Retry-After")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function wholeNumber(name: string, value: number | undefined, otherwise: number): number {
  if (value === undefined) return otherwise;
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`createTasksClient: ${name} must be a whole number, 0 or more (got ${String(value)})`);
  }
  return value;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Thrown by `listAllTasks` when a page cannot be read; `error` is what the other methods would answer. */
export class TasksClientError extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
    this.name = "TasksClientError";
  }
}

export function createTasksClient(options: TasksClientOptions) {
  const baseUrl = apiRoot(options?.baseUrl);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retries = wholeNumber("retries", options.retries, 2);
  const retryDelayMs = wholeNumber("retryDelayMs", options.retryDelayMs, 250);
  const maxRetryDelayMs = wholeNumber("maxRetryDelayMs", options.maxRetryDelayMs, 5_000);
  const client = createClient<paths>({
    baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const getToken = options.getToken;
  if (getToken) {
    client.use({
      async onRequest({ request }) {
        const token = await getToken();
        if (token) request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    });
  }

  /** Runs one call; any network failure or timeout is BACKEND_UNAVAILABLE. */
  async function call<R extends { response: Response }>(send: (signal: AbortSignal) => Promise<R>): Promise<R | null> {
    try {
      return await send(AbortSignal.timeout(timeoutMs));
    } catch {
      return null;
    }
  }

  /** The wait before retry `attempt` (0 for the first): what the service asked for, else exponential backoff with
   * "equal jitter" (half fixed, half random), so that clients failed by one outage do not all come back at once. */
  function backoff(attempt: number, response: Response | undefined): number {
    const asked = retryAfter(response);
    if (asked !== undefined) return Math.min(asked, maxRetryDelayMs);
    const ceiling = Math.min(retryDelayMs * 2 ** attempt, maxRetryDelayMs);
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  /** Runs one call again while its answer is transient, up to `retries` times. `unsure`: an attempt said the write
   * may have been done (503 OUTCOME_UNKNOWN) or is being done (409 IDEMPOTENCY_KEY_IN_PROGRESS). */
  async function retried<R extends Sent>(
    send: (signal: AbortSignal) => Promise<R>,
  ): Promise<{ sent: R | null; unsure: boolean }> {
    let unsure = false;
    for (let attempt = 0; ; attempt += 1) {
      const sent = await call(send);
      const code = sent ? serviceCode(sent.error) : undefined;
      if (code === "OUTCOME_UNKNOWN" || code === "IDEMPOTENCY_KEY_IN_PROGRESS") unsure = true;
      if (attempt >= retries || !transient(sent)) return { sent, unsure };
      await sleep(backoff(attempt, sent?.response));
    }
  }

  /**
   * Sends a write with its `Idempotency-Key`, retried with the same key: the service keeps a write's answer with
   * the write and gives it back to a copy, so a write whose answer was lost is not done twice. `answered` is the
   * write's data when the service did it (undefined otherwise).
   */
  async function write<R extends Sent, T>(
    key: string,
    send: (signal: AbortSignal) => Promise<R>,
    answered: (sent: R) => T | undefined,
  ): Promise<ApiResponse<T>> {
    const { sent, unsure } = await retried(send);
    const data = sent ? answered(sent) : undefined;
    if (sent && data !== undefined) return success(data, sent.response);
    const failed = sent ? failure(sent.response, sent.error) : unavailable();
    // The last attempt did not get through, but an earlier one may have done the write: "unavailable, nothing was
    // changed" would invite a new write, maybe a second one.
    if (unsure && transient(sent) && failed.error.code !== "OUTCOME_UNKNOWN") {
      failed.error.code = "OUTCOME_UNKNOWN";
      failed.error.message = MESSAGES.OUTCOME_UNKNOWN;
    }
    failed.error.idempotencyKey = key;
    return failed;
  }

  const keyOf = (options: WriteOptions) => options.idempotencyKey ?? crypto.randomUUID();

  const path = (userId: string, taskId: string) => ({ path: { user_id: userId, task_id: taskId } });

  async function listTasks(userId: string, query: ListQuery = {}): Promise<ApiResponse<TaskList>> {
    const sent = await call((signal) =>
      client.GET("/{user_id}/tasks", { params: { path: { user_id: userId }, query }, signal }),
    );
    if (!sent) return unavailable();
    return sent.data ? success(sent.data, sent.response) : failure(sent.response, sent.error);
  }

  /** With `ifNoneMatch` (an ETag the caller holds), a task that has not changed answers NotModified; without it,
   * the answer is the task (or the error). */
  async function getTask(userId: string, taskId: string): Promise<ApiResponse<Task>>;
  async function getTask(
    userId: string,
    taskId: string,
    options: { ifNoneMatch?: string },
  ): Promise<ApiResponse<Task> | NotModified>;
  async function getTask(
    userId: string,
    taskId: string,
    options: { ifNoneMatch?: string } = {},
  ): Promise<ApiResponse<Task> | NotModified> {
    const header = options.ifNoneMatch ? { "If-None-Match": options.ifNoneMatch } : {};
    const sent = await call((signal) =>
      client.GET("/{user_id}/tasks/{task_id}", { params: { ...path(userId, taskId), header }, signal }),
    );
    if (!sent) return unavailable();
    if (sent.response.status === 304) {
      return { success: true, notModified: true, etag: sent.response.headers.get("ETag") ?? options.ifNoneMatch! };
    }
    return sent.data ? success(sent.data, sent.response) : failure(sent.response, sent.error);
  }

  return {
    listTasks,

    /** Every task of the list, page after page (following `next_cursor`); throws TasksClientError on failure. */
    async *listAllTasks(userId: string, query: Omit<ListQuery, "cursor"> = {}): AsyncGenerator<Task, void> {
      let cursor: string | undefined;
      do {
        const page = await listTasks(userId, cursor ? { ...query, cursor } : query);
        if (!page.success) throw new TasksClientError(page.error);
        yield* page.data.items;
        cursor = page.data.next_cursor ?? undefined;
      } while (cursor);
    },

    async createTask(userId: string, task: TaskCreate, options: WriteOptions = {}): Promise<ApiResponse<Task>> {
      const key = keyOf(options);
      const header = { "Idempotency-Key": key };
      return write(
        key,
        (signal) =>
          client.POST("/{user_id}/tasks", { params: { path: { user_id: userId }, header }, body: task, signal }),
        (sent) => sent.data,
      );
    },

    getTask,

    /** A full replace: `description` left out becomes null. */
    async replaceTask(
      userId: string,
      taskId: string,
      task: TaskUpdate,
      options: Conditional = {},
    ): Promise<ApiResponse<Task>> {
      const key = keyOf(options);
      const header = { "Idempotency-Key": key, ...(options.ifMatch ? { "If-Match": options.ifMatch } : {}) };
      return write(
        key,
        (signal) =>
          client.PUT("/{user_id}/tasks/{task_id}", { params: { ...path(userId, taskId), header }, body: task, signal }),
        (sent) => sent.data,
      );
    },

    async deleteTask(userId: string, taskId: string, options: Conditional = {}): Promise<ApiResponse<null>> {
      const key = keyOf(options);
      const header = { "Idempotency-Key": key, ...(options.ifMatch ? { "If-Match": options.ifMatch } : {}) };
      return write(
        key,
        (signal) =>
          client.DELETE("/{user_id}/tasks/{task_id}", { params: { ...path(userId, taskId), header }, signal }),
        (sent) => (sent.response.status === 204 ? null : undefined),
      );
    },

    /** How many tasks the user has: in all, completed, pending, overdue, and of each priority. */
    async getTaskMetrics(userId: string): Promise<ApiResponse<TaskMetrics>> {
      const sent = await call((signal) =>
        client.GET("/{user_id}/tasks/metrics", { params: { path: { user_id: userId } }, signal }),
      );
      if (!sent) return unavailable();
      return sent.data ? success(sent.data, sent.response) : failure(sent.response, sent.error);
    },

    /**
     * Everything that changed in the user's tasks since `since` (the `nextSince` of the last sync), following the
     * feed page after page to its end; without `since`, every current task, which is how a local copy starts. A
     * page that fails fails the whole sync: nothing of it is lost, since the caller syncs again from the same
     * `since`. SYNC_EXPIRED (410): the token is older than the service keeps deletions; start again without it
     * and replace the local copy with what that answers.
     */
    async syncTasks(userId: string, since?: string, options: { limit?: number } = {}): Promise<ApiResponse<TaskSync>> {
      const changes: TaskChange[] = [];
      let token = since;
      for (;;) {
        const query = { ...(token ? { since: token } : {}), ...(options.limit ? { limit: options.limit } : {}) };
        const { sent } = await retried((signal) =>
          client.GET("/{user_id}/tasks/changes", { params: { path: { user_id: userId }, query }, signal }),
        );
        if (!sent) return unavailable();
        if (!sent.data) return failure(sent.response, sent.error);
        const page = sent.data as TaskChanges;
        for (const change of page.changes) changes.push(change);
        token = page.next_since;
        if (!page.has_more) return { success: true, data: { changes, nextSince: token } };
      }
    },

    /** Flips `is_completed` atomically. */
    async toggleTask(userId: string, taskId: string, options: Conditional = {}): Promise<ApiResponse<Task>> {
      const key = keyOf(options);
      const header = { "Idempotency-Key": key, ...(options.ifMatch ? { "If-Match": options.ifMatch } : {}) };
      return write(
        key,
        (signal) =>
          client.PATCH("/{user_id}/tasks/{task_id}/complete", { params: { ...path(userId, taskId), header }, signal }),
        (sent) => sent.data,
      );
    },
  };
}

export type TasksClient = ReturnType<typeof createTasksClient>;
