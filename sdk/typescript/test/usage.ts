// Type tests: `npm run typecheck` (tsc --noEmit --strict) must accept this file. Each @ts-expect-error line
// must be an error, or tsc fails on the unused directive.
import { type ApiResponse, createTasksClient, type Task, type TaskList, type TaskSort } from "../src/index.js";

const client = createTasksClient({ baseUrl: "http://127.0.0.1:8000", getToken: () => "token" });
const user = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

export async function usage(): Promise<void> {
  const sort: TaskSort = "-updated_at";
  const page: ApiResponse<TaskList> = await client.listTasks(user, { sort, limit: 10, completed: false });
  if (page.success) {
    const first: Task | undefined = page.data.items[0];
    const next: string | null = page.data.next_cursor;
    void first, next;
  } else {
    const code: "AUTH_FAILED" | "ACCESS_DENIED" | "NOT_FOUND" | "VALIDATION_ERROR" | "PRECONDITION_FAILED" | "BACKEND_UNAVAILABLE" = page.error.code;
    void code;
  }

  // @ts-expect-error an invalid sort value
  await client.listTasks(user, { sort: "priority" });
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
}

// @ts-expect-error baseUrl is required
createTasksClient({});
