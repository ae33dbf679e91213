/**
 * The tasks-api client for the front end: one method per operation over the client generated from
 * openapi/tasks.yaml (./schema.ts, openapi-fetch), each answering the front end's ApiResponse, never throwing
 * for an HTTP or network failure; and `listAllTasks`, which yields every task and throws TasksClientError.
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
export type Problem = Schemas["Problem"];
export type FieldError = Schemas["FieldError"];

/** The front end's error codes. */
export type ErrorCode =
  | "AUTH_FAILED"
  | "ACCESS_DENIED"
  | "NOT_FOUND"
  | "VALIDATION_ERROR"
  | "PRECONDITION_FAILED"
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
}

export type ApiResponse<T> = { success: true; data: T; etag?: string } | { success: false; error: ApiError };

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

export interface Conditional {
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
  /** Milliseconds before a request is given up as BACKEND_UNAVAILABLE (default 10,000). */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

const MESSAGES: Record<ErrorCode, string> = {
  AUTH_FAILED: "You are not signed in, or your session has ended. Please sign in again.",
  ACCESS_DENIED: "Access denied. You can only access your own tasks.",
  NOT_FOUND: "The task was not found. It may have been deleted.",
  VALIDATION_ERROR: "Some of the information is not valid.",
  PRECONDITION_FAILED: "The task was changed elsewhere. Reload it and try again.",
  BACKEND_UNAVAILABLE: "The service is unavailable right now. Please try again shortly.",
};

function codeFor(status: number): ErrorCode {
  if (status === 401) return "AUTH_FAILED";
  if (status === 403) return "ACCESS_DENIED";
  if (status === 404) return "NOT_FOUND";
  if (status === 412) return "PRECONDITION_FAILED";
  if (status >= 500) return "BACKEND_UNAVAILABLE";
  return "VALIDATION_ERROR"; // 400, 413, 415, 422 and any other refusal of the request as sent
}

function failure(response: Response, problem: unknown): { success: false; error: ApiError } {
  const code = codeFor(response.status);
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
  const etag = response.headers.get("ETag");
  return etag ? { success: true, data, etag } : { success: true, data };
}

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

    async createTask(userId: string, task: TaskCreate): Promise<ApiResponse<Task>> {
      const sent = await call((signal) =>
        client.POST("/{user_id}/tasks", { params: { path: { user_id: userId } }, body: task, signal }),
      );
      if (!sent) return unavailable();
      return sent.data ? success(sent.data, sent.response) : failure(sent.response, sent.error);
    },

    getTask,

    /** A full replace: `description` left out becomes null. */
    async replaceTask(
      userId: string,
      taskId: string,
      task: TaskUpdate,
      options: Conditional = {},
    ): Promise<ApiResponse<Task>> {
      const header = options.ifMatch ? { "If-Match": options.ifMatch } : {};
      const sent = await call((signal) =>
        client.PUT("/{user_id}/tasks/{task_id}", { params: { ...path(userId, taskId), header }, body: task, signal }),
      );
      if (!sent) return unavailable();
      return sent.data ? success(sent.data, sent.response) : failure(sent.response, sent.error);
    },

    async deleteTask(userId: string, taskId: string, options: Conditional = {}): Promise<ApiResponse<null>> {
      const header = options.ifMatch ? { "If-Match": options.ifMatch } : {};
      const sent = await call((signal) =>
        client.DELETE("/{user_id}/tasks/{task_id}", { params: { ...path(userId, taskId), header }, signal }),
      );
      if (!sent) return unavailable();
      return sent.response.status === 204 ? { success: true, data: null } : failure(sent.response, sent.error);
    },

    /** How many tasks the user has: in all, completed, pending, overdue, and of each priority. */
    async getTaskMetrics(userId: string): Promise<ApiResponse<TaskMetrics>> {
      const sent = await call((signal) =>
        client.GET("/{user_id}/tasks/metrics", { params: { path: { user_id: userId } }, signal }),
      );
      if (!sent) return unavailable();
      return sent.data ? success(sent.data, sent.response) : failure(sent.response, sent.error);
    },

    /** Flips `is_completed` atomically. */
    async toggleTask(userId: string, taskId: string, options: Conditional = {}): Promise<ApiResponse<Task>> {
      const header = options.ifMatch ? { "If-Match": options.ifMatch } : {};
      const sent = await call((signal) =>
        client.PATCH("/{user_id}/tasks/{task_id}/complete", { params: { ...path(userId, taskId), header }, signal }),
      );
      if (!sent) return unavailable();
      return sent.data ? success(sent.data, sent.response) : failure(sent.response, sent.error);
    },
  };
}

export type TasksClient = ReturnType<typeof createTasksClient>;
