// The client against a live tasks-api: `npm test` with TASKS_API_URL (a running service's origin), TASKS_API_USERS
// (JSON: two or more {id, token} whose tokens the service accepts) and TASKS_API_STOPPED_URL (where nothing
// listens). tests/sdk/test_typescript.py starts the service on SQLite and on PostgreSQL and runs this.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { describe, test } from "node:test";

import { createTasksClient, TasksClientError } from "../dist/index.js";

const origin = process.env.TASKS_API_URL;
const users = JSON.parse(process.env.TASKS_API_USERS ?? "[]");
const stoppedUrl = process.env.TASKS_API_STOPPED_URL;
if (!origin || users.length < 2 || !stoppedUrl) {
  throw new Error("set TASKS_API_URL, TASKS_API_USERS and TASKS_API_STOPPED_URL (see tests/sdk/test_typescript.py)");
}
const baseUrl = `${origin}/api`; // the API root, as the spec's servers URL says
const [alice, bob] = users;
const clientFor = (user) => createTasksClient({ baseUrl, getToken: () => user.token });
const aliceClient = clientFor(alice);

/** A local server answering every request with `status` and `body` (no body if undefined); closed by `run`'s end. */
async function answering(status, body, run) {
  const server = createServer((request, response) => {
    response.writeHead(status, body === undefined ? {} : { "Content-Type": "text/html" });
    response.end(body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await run(`http://127.0.0.1:${server.address().port}/api`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

async function created(client, user, title = "a task") {
  const answer = await client.createTask(user.id, { title });
  assert.equal(answer.success, true, JSON.stringify(answer));
  return answer;
}

describe("creation", () => {
  test("a missing baseUrl throws at once with a clear message", () => {
    for (const missing of [undefined, "", "  "]) {
      assert.throws(() => createTasksClient({ baseUrl: missing }), /baseUrl is required: the API root, e\.g\. http/);
    }
  });

  test("the API root, with or without a trailing slash, and the origin all reach the service", async () => {
    for (const given of [baseUrl, `${baseUrl}/`, origin, `${origin}/`]) {
      const answer = await createTasksClient({ baseUrl: given, getToken: () => alice.token }).getTaskMetrics(alice.id);
      assert.equal(answer.success, true, `${given}: ${JSON.stringify(answer)}`);
    }
  });

  test("a base URL that cannot be right throws at once, saying why", () => {
    const underTheRoot = new RegExp(
      `names a path under the API root; pass the API root itself, ${JSON.stringify(baseUrl).replace(/[.]/g, "\\.")}$`,
    );
    const refusals = [
      ["127.0.0.1:8000/api", /"127\.0\.0\.1:8000\/api" is not an absolute URL; pass the API root, e\.g\. http/],
      ["ftp://127.0.0.1/api", /"ftp:\/\/127\.0\.0\.1\/api" is not an http or https URL/],
      [`${baseUrl}?user=${alice.id}`, /must not carry a query or a fragment/],
      [`${baseUrl}/#tasks`, /must not carry a query or a fragment/],
      [`${baseUrl}/${alice.id}/tasks`, underTheRoot],
      [`${baseUrl}/health/ready/`, underTheRoot],
    ];
    for (const [given, message] of refusals) {
      const saysWhy = (error) => error instanceof TypeError && message.test(error.message);
      assert.throws(() => createTasksClient({ baseUrl: given }), saysWhy, given);
    }
    const withPassword = baseUrl.replace("://", "://alice:hunter2@");
    assert.throws(
      () => createTasksClient({ baseUrl: withPassword }),
      (error) => /must not carry a user name or password/.test(error.message) && !error.message.includes("hunter2"),
    );
  });
});

describe("every operation", () => {
  test("create, get, replace, toggle, list and delete", async () => {
    const made = await created(aliceClient, alice, "Buy milk");
    const task = made.data;
    assert.equal(task.title, "Buy milk");
    assert.equal(task.user_id, alice.id);
    assert.match(made.etag, /^"\d+"$/);

    const got = await aliceClient.getTask(alice.id, task.id);
    assert.deepEqual(got.data, task);

    const replaced = await aliceClient.replaceTask(alice.id, task.id, { title: "Buy oat milk", is_completed: false });
    assert.equal(replaced.data.title, "Buy oat milk");
    assert.equal(replaced.data.description, null);

    const toggled = await aliceClient.toggleTask(alice.id, task.id);
    assert.equal(toggled.data.is_completed, true);

    const listed = await aliceClient.listTasks(alice.id, { q: "oat milk" });
    assert.deepEqual(listed.data.items.map((item) => item.id), [task.id]);
    assert.equal(listed.data.count, 1);

    const deleted = await aliceClient.deleteTask(alice.id, task.id);
    assert.deepEqual(deleted, { success: true, data: null });
    assert.equal((await aliceClient.getTask(alice.id, task.id)).error.code, "NOT_FOUND");
  });

  test("listAllTasks walks every page in order", async () => {
    const user = { id: alice.id, token: alice.token };
    const marker = `walk ${randomUUID()}`;
    const titles = [];
    for (let n = 0; n < 5; n += 1) {
      titles.push((await created(aliceClient, user, `${marker} ${n}`)).data.title);
    }
    const seen = [];
    for await (const task of aliceClient.listAllTasks(alice.id, { q: marker, sort: "title", limit: 2 })) {
      seen.push(task.title);
    }
    assert.deepEqual(seen, titles);
  });

  test("priority, tags and due dates; the filters, sorts and metrics that use them", async () => {
    const marker = `fields ${randomUUID()}`;
    const urgent = await aliceClient.createTask(alice.id, {
      title: `${marker} urgent`,
      priority: "High",
      tags: ["Work ", "q1"],
      due_at: "2026-12-24T18:00:00+01:00",
    });
    assert.equal(urgent.success, true, JSON.stringify(urgent));
    assert.deepEqual(
      [urgent.data.priority, urgent.data.tags, urgent.data.due_at],
      ["High", ["q1", "work"], "2026-12-24T17:00:00.000000Z"],
    );
    const later = await created(aliceClient, alice, `${marker} later`);
    assert.deepEqual([later.data.priority, later.data.tags, later.data.due_at], ["Medium", [], null]);

    const byTag = await aliceClient.listTasks(alice.id, { q: marker, tags: ["WORK", "q1"] });
    assert.deepEqual(byTag.data.items.map((task) => task.id), [urgent.data.id]);
    const byPriority = await aliceClient.listTasks(alice.id, { search: marker, sort_by: "priority", sort_order: "asc" });
    assert.deepEqual(byPriority.data.items.map((task) => task.priority), ["Medium", "High"]);
    const byDue = await aliceClient.listTasks(alice.id, { q: marker, sort: "-due_at", page: 1, page_size: 1 });
    assert.deepEqual([byDue.data.items[0].id, byDue.data.count], [urgent.data.id, 2]);

    const got = await aliceClient.getTask(alice.id, urgent.data.id);
    assert.deepEqual(got.data, urgent.data);
    const metrics = await aliceClient.getTaskMetrics(alice.id);
    assert.equal(metrics.success, true);
    assert.ok(metrics.data.high_priority >= 1 && metrics.data.total >= 2);
  });

  test("listAllTasks throws the error a page answered", async () => {
    const walk = aliceClient.listAllTasks(bob.id);
    await assert.rejects(walk.next(), (error) => error instanceof TasksClientError && error.error.code === "ACCESS_DENIED");
  });
});

describe("conditional requests", () => {
  test("a stale If-Match is PRECONDITION_FAILED and changes nothing", async () => {
    const { data: task, etag } = await created(aliceClient, alice);
    const toggled = await aliceClient.toggleTask(alice.id, task.id, { ifMatch: etag });
    assert.equal(toggled.success, true);
    assert.notEqual(toggled.etag, etag);

    for (const stale of [
      aliceClient.replaceTask(alice.id, task.id, { title: "lost", is_completed: false }, { ifMatch: etag }),
      aliceClient.toggleTask(alice.id, task.id, { ifMatch: etag }),
      aliceClient.deleteTask(alice.id, task.id, { ifMatch: etag }),
    ]) {
      const answer = await stale;
      assert.equal(answer.success, false);
      assert.equal(answer.error.code, "PRECONDITION_FAILED");
      assert.equal(answer.error.status, 412);
    }
    assert.deepEqual((await aliceClient.getTask(alice.id, task.id)).data, toggled.data);
  });

  test("If-None-Match with the current ETag is NotModified", async () => {
    const { data: task, etag } = await created(aliceClient, alice);
    assert.deepEqual(await aliceClient.getTask(alice.id, task.id, { ifNoneMatch: etag }), {
      success: true,
      notModified: true,
      etag,
    });
    await aliceClient.toggleTask(alice.id, task.id);
    const changed = await aliceClient.getTask(alice.id, task.id, { ifNoneMatch: etag });
    assert.equal(changed.data.is_completed, true);
  });
});

describe("error codes", () => {
  test("no token or a bad one: AUTH_FAILED, saying which", async () => {
    for (const [getToken, message] of [
      [() => undefined, "A bearer token is required"],
      [() => "not-a-token", "The token is not a well-formed JWT"],
    ]) {
      const answer = await createTasksClient({ baseUrl, getToken }).listTasks(alice.id);
      assert.equal(answer.error.code, "AUTH_FAILED");
      assert.equal(answer.error.status, 401);
      assert.equal(answer.error.message, message);
      assert.match(answer.error.requestId, /\S/);
    }
  });

  test("another user's tasks: ACCESS_DENIED, with the service's reason", async () => {
    const answer = await aliceClient.listTasks(bob.id);
    assert.equal(answer.error.code, "ACCESS_DENIED");
    assert.equal(answer.error.status, 403);
    assert.match(answer.error.message, /another user/);
  });

  test("a missing task: NOT_FOUND", async () => {
    const answer = await aliceClient.toggleTask(alice.id, randomUUID());
    assert.deepEqual([answer.error.code, answer.error.message], ["NOT_FOUND", "Task not found"]);
  });

  test("an answer that says nothing: the code's own message", async () => {
    const cases = [
      [401, undefined, "AUTH_FAILED", "You are not signed in, or your session has ended. Please sign in again."],
      [404, "<h1>Not Found</h1>", "NOT_FOUND", "The task was not found. It may have been deleted."],
      [
        502,
        "<h1>Bad Gateway</h1>",
        "BACKEND_UNAVAILABLE",
        "The service is unavailable right now. Please try again shortly.",
      ],
    ];
    for (const [status, body, code, message] of cases) {
      const answer = await answering(status, body, (url) => createTasksClient({ baseUrl: url }).listTasks(alice.id));
      assert.deepEqual([answer.error.code, answer.error.status, answer.error.message], [code, status, message]);
    }
  });

  test("two spellings of one thing: VALIDATION_ERROR naming both", async () => {
    const answer = await aliceClient.listTasks(alice.id, { completed: false, status: "pending" });
    assert.equal(answer.error.status, 400);
    assert.deepEqual(answer.error.fieldErrors.map((error) => error.field).sort(), ["completed", "status"]);
  });

  test("a bad id or body: VALIDATION_ERROR, with the fields", async () => {
    const badId = await aliceClient.getTask(alice.id, "42");
    assert.equal(badId.error.code, "VALIDATION_ERROR");
    assert.equal(badId.error.status, 400);

    const blank = await aliceClient.createTask(alice.id, { title: "   " });
    assert.equal(blank.error.code, "VALIDATION_ERROR");
    assert.equal(blank.error.status, 422);
    assert.deepEqual(blank.error.fieldErrors.map((error) => error.field), ["title"]);
  });

  test("a stopped server: BACKEND_UNAVAILABLE", async () => {
    const answer = await createTasksClient({ baseUrl: stoppedUrl, getToken: () => alice.token }).listTasks(alice.id);
    assert.deepEqual(answer, {
      success: false,
      error: { code: "BACKEND_UNAVAILABLE", message: "The service is unavailable right now. Please try again shortly." },
    });
  });

  test("a server that does not answer in time: BACKEND_UNAVAILABLE", async () => {
    const silent = createServer(() => {}); // accepts, never answers
    await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${silent.address().port}`;
      const answer = await createTasksClient({ baseUrl: url, timeoutMs: 200 }).listTasks(alice.id);
      assert.equal(answer.error.code, "BACKEND_UNAVAILABLE");
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
