// Type tests: `npm run typecheck` (tsc --noEmit --strict) must accept this file. Each @ts-expect-error line
// must be an error, or tsc fails on the unused directive.
import {
  type ApiResponse,
  createTasksClient,
  type ErrorCode,
  type Task,
  type TaskChange,
  type TaskChanges,
  type TaskList,
  type TaskMetrics,
  type TaskPriority,
  type TaskSort,
  type TaskSync,
} from "../src/index.js";

const client = createTasksClient({ baseUrl: "http://127.0.0.1:8000/api", getToken: () => "token" });
const user = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
// Better Auth's ids are plain strings too: user ids are strings in both of the service's user-id modes.
const betterAuthUser = "Xk2PqL9mZr4TnB7wYc1VdE5sHa8JuF3g";

export async function usage(): Promise<void> {
  const sort: TaskSort = "-updated_at";
  const page: ApiResponse<TaskList> = await client.listTasks(user, { sort, limit: 10, completed: false });
  if (page.success) {
    const first: Task | undefined = page.data.items[0];
    const next: string | null = page.data.next_cursor;
    void first, next;
  } else {
    const code:
      | "AUTH_FAILED"
      | "ACCESS_DENIED"
      | "NOT_FOUND"
      | "VALIDATION_ERROR"
      | "PRECONDITION_FAILED"
      | "OUTCOME_UNKNOWN"
      | "IDEMPOTENCY_KEY_REUSED"
      | "SYNC_EXPIRED"
      | "BACKEND_UNAVAILABLE" = page.error.code;
    void code;
  }

  // @ts-expect-error an invalid sort value
  await client.listTasks(user, { sort: "rank" });
  // @ts-expect-error priorities are capitalised, as the front end sends them
  await client.listTasks(user, { priority: "high" });
  const priority: TaskPriority = "High";
  await client.listTasks(betterAuthUser, { priority, tags: ["work", "q1"], sort: "-priority", limit: 50 });
  await client.listTasks(betterAuthUser, { status: "pending", search: "milk", sort_by: "due_at", sort_order: "asc" });
  await client.listTasks(betterAuthUser, { page: 2, page_size: 20 });
  await client.createTask(betterAuthUser, { title: "t", priority: "Low", tags: ["a"], due_at: "2026-12-24T18:00:00Z" });
  const created = await client.createTask(user, { title: "t" });
  if (created.success) {
    const tags: string[] = created.data.tags;
    const due: string | null = created.data.due_at;
    const level: TaskPriority = created.data.priority;
    void tags, due, level;
  }

  // Without If-None-Match the answer is the task or an error, never NotModified.
  const plain = await client.getTask(user, "id");
  if (plain.success) {
    const title: string = plain.data.title;
    void title;
  }

  const metrics: ApiResponse<TaskMetrics> = await client.getTaskMetrics(betterAuthUser);
  if (metrics.success) {
    const overdue: number = metrics.data.overdue;
    void overdue;
  }
  // @ts-expect-error an unknown body field
  await client.createTask(user, { title: "t", priority: 1 });
  // @ts-expect-error a replace needs is_completed
  await client.replaceTask(user, "id", { title: "t" });

  const got = await client.getTask(user, "id", { ifNoneMatch: '"3"' });
  if (got.success && "notModified" in got) {
    const etag: string = got.etag;
    void etag;
  } else if (got.success) {
    const title: string = got.data.title;
    void title;
  }

  const deleted = await client.deleteTask(user, "id", { ifMatch: '"2"' });
  if (deleted.success) {
    const nothing: null = deleted.data;
    void nothing;
  }

  for await (const task of client.listAllTasks(user, { sort: "title" })) {
    const done: boolean = task.is_completed;
    void done;
  }

  // Writes take an Idempotency-Key of the caller's; a failed one says which key it was sent with.
  const key = "9b2e6cf2-55a7-4d51-9c1c-0d7f4a0c2f43";
  const queued = await client.createTask(user, { title: "t" }, { idempotencyKey: key });
  if (queued.success) {
    const replayed: true | undefined = queued.replayed;
    void replayed;
  } else if (queued.error.code === "OUTCOME_UNKNOWN" && queued.error.idempotencyKey) {
    await client.createTask(user, { title: "t" }, { idempotencyKey: queued.error.idempotencyKey });
  }
  await client.replaceTask(user, "id", { title: "t", is_completed: true }, { ifMatch: '"2"', idempotencyKey: "k" });
  await client.toggleTask(user, "id", { idempotencyKey: "k" });
  await client.deleteTask(user, "id", { idempotencyKey: "k" });
  // @ts-expect-error a key is a string
  await client.toggleTask(user, "id", { idempotencyKey: 42 });

  // The changes feed: a change is a task or a deletion, told apart by `deleted`.
  const local = new Map<string, Task>();
  let since: string | undefined = "WzEsMjQ0XQ.3kq2S8wNfV1qS0bX2cJmVw";
  const synced: ApiResponse<TaskSync> = await client.syncTasks(user, since);
  if (synced.success) {
    for (const change of synced.data.changes) {
      // @ts-expect-error a deletion has no task: narrow on `deleted` first
      void change.task.title;
      if (change.deleted) {
        const when: string = change.deleted_at;
        void when;
        local.delete(change.id);
      } else {
        local.set(change.id, change.task);
      }
    }
    since = synced.data.nextSince;
  } else if (synced.error.code === "SYNC_EXPIRED") {
    const again = await client.syncTasks(user, undefined, { limit: 500 });
    void again;
  }
  const first: TaskChange = { id: "id", deleted: true, deleted_at: "2026-12-07T08:13:02Z" };
  // @ts-expect-error a change that is not a deletion carries its task
  const bare: TaskChange = { id: "id", deleted: false };
  const feedPage: TaskChanges = { changes: [first], next_since: "a.b", has_more: false };
  const expired: ErrorCode = "SYNC_EXPIRED";
  void bare, feedPage, expired;
}

// @ts-expect-error baseUrl is required
createTasksClient({});

createTasksClient({ baseUrl: "http://127.0.0.1:8000/api", retries: 0 });
createTasksClient({ baseUrl: "http://127.0.0.1:8000/api", retries: 3, retryDelayMs: 100, maxRetryDelayMs: 2_000 });
// @ts-expect-error retries is a number
createTasksClient({ baseUrl: "http://127.0.0.1:8000/api", retries: "2" });
