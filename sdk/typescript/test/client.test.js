// The client against a live tasks-api: `npm test` with TASKS_API_URL (a running service's origin), TASKS_API_USERS
// (JSON: two or more {id, token} whose tokens the service accepts) and TASKS_API_STOPPED_URL (where nothing
// listens). tests/sdk/test_typescript.py starts the service on SQLite and on PostgreSQL and runs this, and counts
// the passes: without those variables the live tests are skipped (a bare `npm test` runs the others, those of the
// retries and of syncTasks over a scripted `fetch`), which that count would catch.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { describe, test } from "node:test";

import { createTasksClient, TasksClientError } from "../dist/index.js";

const origin = process.env.TASKS_API_URL;
const users = JSON.parse(process.env.TASKS_API_USERS ?? "[]");
const stoppedUrl = process.env.TASKS_API_STOPPED_URL;
const live =
  origin && users.length >= 2 && stoppedUrl
    ? {}
    : { skip: "set TASKS_API_URL, TASKS_API_USERS and TASKS_API_STOPPED_URL (see tests/sdk/test_typescript.py)" };
const baseUrl = `${origin}/api`; // the API root, as the spec's servers URL says
const [alice, bob] = users;
const clientFor = (user) => createTasksClient({ baseUrl, getToken: () => user.token });
const aliceClient = live.skip ? undefined : clientFor(alice);

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

/**
 * Syncs until `done` holds of what came (or 30 s have passed). The feed shows a write once every transaction older
 * than it has ended, on PostgreSQL anywhere in the cluster, where other tests' run beside these.
 */
async function syncedUntil(client, userId, since, options, done) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const sync = await client.syncTasks(userId, since, options);
    if (!sync.success || done(sync.data) || Date.now() > deadline) return sync;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("creation", live, () => {
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

describe("every operation", live, () => {
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

describe("conditional requests", live, () => {
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

describe("error codes", live, () => {
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

describe("idempotency keys and the changes feed", live, () => {
  test("a write sent again with its key is done once, and answered again as replayed", async () => {
    const key = randomUUID();
    const first = await aliceClient.createTask(alice.id, { title: "once" }, { idempotencyKey: key });
    const again = await aliceClient.createTask(alice.id, { title: "once" }, { idempotencyKey: key });
    assert.equal(first.success, true, JSON.stringify(first));
    assert.equal(first.replayed, undefined);
    assert.deepEqual(again, { ...first, replayed: true });

    const task = first.data;
    const toggleKey = randomUUID();
    for (let copy = 0; copy < 2; copy += 1) {
      const toggled = await aliceClient.toggleTask(alice.id, task.id, { idempotencyKey: toggleKey });
      assert.equal(toggled.data.is_completed, true, `copy ${copy}: done once, not undone`);
    }
    const reused = await aliceClient.createTask(alice.id, { title: "another" }, { idempotencyKey: key });
    assert.deepEqual([reused.error.code, reused.error.status], ["IDEMPOTENCY_KEY_REUSED", 422]);

    const deleteKey = randomUUID();
    const deleted = await aliceClient.deleteTask(alice.id, task.id, { idempotencyKey: deleteKey });
    assert.deepEqual(deleted, { success: true, data: null });
    const deletedAgain = await aliceClient.deleteTask(alice.id, task.id, { idempotencyKey: deleteKey });
    assert.deepEqual(deletedAgain, { success: true, data: null, replayed: true });
  });

  test("syncTasks: every task to start with, then what changed and what was deleted", async () => {
    const kept = await created(aliceClient, alice, `sync ${randomUUID()}`);
    const dropped = await created(aliceClient, alice, `sync ${randomUUID()}`);
    const both = (data) => [kept, dropped].every(({ data: task }) => data.changes.some(({ id }) => id === task.id));
    const start = await syncedUntil(aliceClient, alice.id, undefined, { limit: 2 }, both);
    assert.equal(start.success, true, JSON.stringify(start));
    const current = [];
    for await (const task of aliceClient.listAllTasks(alice.id)) current.push(task);
    assert.deepEqual(
      start.data.changes.map((change) => change.id).sort(),
      current.map((task) => task.id).sort(),
    );
    assert.ok(start.data.changes.every((change) => !change.deleted));
    const startedWith = start.data.changes.find((change) => change.id === kept.data.id);
    assert.deepEqual(startedWith, { id: kept.data.id, deleted: false, task: kept.data });

    const toggled = await aliceClient.toggleTask(alice.id, kept.data.id);
    assert.equal((await aliceClient.deleteTask(alice.id, dropped.data.id)).success, true);
    const bothChanged = (data) => data.changes.length >= 2;
    const next = await syncedUntil(aliceClient, alice.id, start.data.nextSince, { limit: 1 }, bothChanged);
    assert.equal(next.success, true, JSON.stringify(next));
    assert.equal(next.data.changes.length, 2, JSON.stringify(next.data.changes));
    const [changed, deletion] = next.data.changes;
    assert.deepEqual(changed, { id: kept.data.id, deleted: false, task: toggled.data });
    assert.deepEqual([deletion.id, deletion.deleted], [dropped.data.id, true]);
    assert.ok(Date.parse(deletion.deleted_at) >= Date.parse(dropped.data.created_at), deletion.deleted_at);

    const idle = await aliceClient.syncTasks(alice.id, next.data.nextSince);
    assert.deepEqual(idle.data.changes, []);

    const others = await aliceClient.syncTasks(bob.id);
    assert.equal(others.error.code, "ACCESS_DENIED");
  });
});

// Over a scripted `fetch`: no service needed.

const USER = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const TASK_ID = "5e22d703-dc7d-4528-accc-9a465c7896d9";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const A_TASK = {
  id: TASK_ID,
  title: "a task",
  description: null,
  is_completed: false,
  created_at: "2026-12-07T06:58:29.027546Z",
  updated_at: "2026-12-07T06:58:29.027546Z",
  user_id: USER,
  priority: "Medium",
  tags: [],
  due_at: null,
};

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const problem = (status, errorCode, headers = {}) =>
  new Response(JSON.stringify({ title: "t", status, detail: `said ${status}`, error_code: errorCode }), {
    status,
    headers: { "Content-Type": "application/problem+json", ...headers },
  });
const ok = () => json(200, A_TASK, { ETag: '"1"' });
const networkError = () => new TypeError("fetch failed");
/** A request that gets no answer: it ends when the client's timeout aborts it. AbortSignal.timeout's timer does not
 * keep Node running, as a real request's socket would: this one does, in its place. */
const noAnswer = (request) =>
  new Promise((_, reject) => {
    const socket = setTimeout(() => reject(new Error("the client's timeout never fired")), 10_000);
    request.signal.addEventListener("abort", () => {
      clearTimeout(socket);
      reject(request.signal.reason);
    });
  });

/**
 * A client whose `fetch` gives `answers` in turn (a Response, an Error to throw, or a function of the request), and
 * the requests it was sent. Retries wait 1 ms unless `options` say otherwise.
 */
function scripted(answers, options = {}) {
  const requests = [];
  const fetch = async (request) => {
    requests.push(request);
    const next = answers[requests.length - 1];
    assert.ok(next !== undefined, `request ${requests.length} was not expected: ${request.method} ${request.url}`);
    const answer = typeof next === "function" ? await next(request) : next;
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const client = createTasksClient({ baseUrl: "http://tasks.test/api", retryDelayMs: 1, ...options, fetch });
  return { client, requests, keys: () => requests.map((request) => request.headers.get("Idempotency-Key")) };
}

/** Each write once, as `client` makes it, with what a success of it answers. */
const WRITES = [
  ["createTask", (client) => client.createTask(USER, { title: "a task" }), () => json(201, A_TASK)],
  ["replaceTask", (client) => client.replaceTask(USER, TASK_ID, { title: "t", is_completed: true }), ok],
  ["toggleTask", (client) => client.toggleTask(USER, TASK_ID), ok],
  ["deleteTask", (client) => client.deleteTask(USER, TASK_ID), () => new Response(null, { status: 204 })],
];

describe("idempotency keys and retries", () => {
  test("each write call sends a fresh Idempotency-Key", async () => {
    const calls = [...WRITES, ...WRITES];
    const { client, requests, keys } = scripted(calls.map(([, , answer]) => answer()));
    for (const [name, write] of calls) {
      assert.equal((await write(client)).success, true, name);
    }
    assert.deepEqual(
      requests.map((request) => request.method),
      ["POST", "PUT", "PATCH", "DELETE", "POST", "PUT", "PATCH", "DELETE"],
    );
    assert.ok(keys().every((key) => UUID.test(key)), keys().join());
    assert.equal(new Set(keys()).size, calls.length);
  });

  test("every retry of one write sends the same key, request and If-Match", async () => {
    for (const [name, write, answer] of WRITES) {
      const { client, requests, keys } = scripted([networkError(), problem(503, "OUTCOME_UNKNOWN"), answer()]);
      assert.equal((await write(client)).success, true, name);
      assert.equal(requests.length, 3, name);
      assert.equal(new Set(keys()).size, 1, name);
      assert.equal(new Set(requests.map((request) => `${request.method} ${request.url}`)).size, 1, name);
    }
    const { client, requests } = scripted([problem(502), ok()]);
    await client.toggleTask(USER, TASK_ID, { ifMatch: '"4"' });
    assert.deepEqual(
      requests.map((request) => request.headers.get("If-Match")),
      ['"4"', '"4"'],
    );
  });

  test("a network failure, a timeout, 502, 503, 504 and 409 IDEMPOTENCY_KEY_IN_PROGRESS are retried", async () => {
    const transients = [
      ["network failure", networkError],
      ["timeout", () => noAnswer],
      ["502", () => new Response("<h1>Bad Gateway</h1>", { status: 502, headers: { "Content-Type": "text/html" } })],
      ["503", () => problem(503, "SERVICE_UNAVAILABLE")],
      ["504", () => new Response(null, { status: 504 })],
      ["409", () => problem(409, "IDEMPOTENCY_KEY_IN_PROGRESS")],
    ];
    for (const [name, transient] of transients) {
      const { client, requests } = scripted([transient(), json(201, A_TASK, { "Idempotent-Replayed": "true" })], {
        timeoutMs: 50,
      });
      const answer = await client.createTask(USER, { title: "a task" });
      assert.deepEqual(answer, { success: true, data: A_TASK, replayed: true }, name);
      assert.equal(requests.length, 2, name);
    }
  });

  test("400, 404, 409 without the key's code, 412, 422 and 500 are answered at once", async () => {
    const finals = [
      [400, "VALIDATION_ERROR", "VALIDATION_ERROR"],
      [404, "NOT_FOUND", "NOT_FOUND"],
      [409, undefined, "VALIDATION_ERROR"],
      [412, "PRECONDITION_FAILED", "PRECONDITION_FAILED"],
      [422, "VALIDATION_ERROR", "VALIDATION_ERROR"],
      [500, "SERVER_ERROR", "BACKEND_UNAVAILABLE"],
    ];
    for (const [status, serviceCode, code] of finals) {
      const { client, requests, keys } = scripted([problem(status, serviceCode)]);
      const answer = await client.replaceTask(USER, TASK_ID, { title: "t", is_completed: false });
      assert.equal(requests.length, 1, String(status));
      assert.deepEqual(
        answer.error,
        { code, message: `said ${status}`, status, idempotencyKey: keys()[0] },
        String(status),
      );
    }
  });

  test("reads are sent once", async () => {
    const { client, requests } = scripted([problem(503, "SERVICE_UNAVAILABLE")]);
    assert.equal((await client.listTasks(USER)).error.code, "BACKEND_UNAVAILABLE");
    assert.equal(requests.length, 1);
  });

  test("two retries by default, then the last answer", async () => {
    const { client, requests } = scripted([problem(503, "SERVICE_UNAVAILABLE"), networkError(), problem(504)]);
    const answer = await client.deleteTask(USER, TASK_ID);
    assert.equal(requests.length, 3);
    assert.deepEqual([answer.error.code, answer.error.status], ["BACKEND_UNAVAILABLE", 504]);
  });

  test("retries: 0 sends once; another count is that many retries", async () => {
    const once = scripted([problem(503, "SERVICE_UNAVAILABLE")], { retries: 0 });
    const answer = await once.client.createTask(USER, { title: "a task" });
    assert.equal(once.requests.length, 1);
    assert.deepEqual(answer, {
      success: false,
      error: { code: "BACKEND_UNAVAILABLE", message: "said 503", status: 503, idempotencyKey: once.keys()[0] },
    });

    const five = scripted(Array.from({ length: 6 }, networkError), { retries: 5 });
    assert.equal((await five.client.toggleTask(USER, TASK_ID)).error.code, "BACKEND_UNAVAILABLE");
    assert.equal(five.requests.length, 6);
  });

  test("a retry count or delay that is not a whole number 0 or more is refused at once", () => {
    for (const options of [{ retries: -1 }, { retries: 1.5 }, { retryDelayMs: Number.NaN }, { maxRetryDelayMs: -5 }]) {
      assert.throws(
        () => createTasksClient({ baseUrl: "http://tasks.test/api", ...options }),
        /^TypeError: createTasksClient: \w+ must be a whole number, 0 or more/,
      );
    }
  });

  test("the wait before a retry is Retry-After when the service sends one, capped by maxRetryDelayMs", async () => {
    // An HTTP date has whole seconds: 2 s ahead is 1 to 2 s from now.
    const cases = [
      ["Retry-After: 1", () => "1", {}, 950, 3000],
      ["an HTTP date 2 s ahead", () => new Date(Date.now() + 2000).toUTCString(), {}, 950, 3000],
      ["capped", () => "60", { maxRetryDelayMs: 150 }, 140, 900],
    ];
    for (const [name, retryAfter, options, least, most] of cases) {
      const busy = problem(503, "SERVICE_UNAVAILABLE", { "Retry-After": retryAfter() });
      const { client, requests } = scripted([busy, json(201, A_TASK)], options);
      const started = performance.now();
      assert.equal((await client.createTask(USER, { title: "a task" })).success, true, name);
      const waited = performance.now() - started;
      assert.equal(requests.length, 2, name);
      assert.ok(waited >= least && waited < most, `${name}: waited ${waited} ms`);
    }
  });

  test("without Retry-After, the wait doubles from retryDelayMs, with jitter", async () => {
    // 100 ms then 200 ms at most, each at least half of that: Math.random() picks where in between.
    const random = Math.random;
    try {
      for (const [drawn, least, most] of [
        [0, 145, 280],
        [0.999, 295, 600],
      ]) {
        Math.random = () => drawn;
        const { client } = scripted([networkError(), networkError(), ok()], { retryDelayMs: 100 });
        const started = performance.now();
        assert.equal((await client.toggleTask(USER, TASK_ID)).success, true);
        const waited = performance.now() - started;
        assert.ok(waited >= least && waited < most, `random ${drawn}: waited ${waited} ms`);
      }
    } finally {
      Math.random = random;
    }
  });

  test("a write whose outcome stays unknown is OUTCOME_UNKNOWN, with the key to send it again", async () => {
    const { client, keys } = scripted([problem(503, "OUTCOME_UNKNOWN"), networkError(), problem(502)]);
    const answer = await client.createTask(USER, { title: "a task" });
    assert.deepEqual(answer.error, {
      code: "OUTCOME_UNKNOWN",
      message: "The change may or may not have been saved. Reload your tasks to check before trying again.",
      status: 502,
      idempotencyKey: keys()[0],
    });

    const again = scripted([json(201, A_TASK, { "Idempotent-Replayed": "true" })]);
    const { idempotencyKey } = answer.error;
    const resent = await again.client.createTask(USER, { title: "a task" }, { idempotencyKey });
    assert.deepEqual(again.keys(), keys().slice(0, 1));
    assert.deepEqual(resent, { success: true, data: A_TASK, replayed: true });
  });

  test("a key still in progress after the retries is OUTCOME_UNKNOWN; a reused one is not retried", async () => {
    const busy = scripted([1, 2, 3].map(() => problem(409, "IDEMPOTENCY_KEY_IN_PROGRESS", { "Retry-After": "0" })));
    const inProgress = await busy.client.toggleTask(USER, TASK_ID, { idempotencyKey: "toggle-1" });
    assert.deepEqual(busy.keys(), ["toggle-1", "toggle-1", "toggle-1"]);
    assert.deepEqual([inProgress.error.code, inProgress.error.status], ["OUTCOME_UNKNOWN", 409]);

    const reused = scripted([problem(422, "IDEMPOTENCY_KEY_REUSED")]);
    const answer = await reused.client.deleteTask(USER, TASK_ID, { idempotencyKey: "toggle-1" });
    assert.equal(reused.requests.length, 1);
    assert.deepEqual([answer.error.code, answer.error.status], ["IDEMPOTENCY_KEY_REUSED", 422]);
  });
});

describe("syncTasks", () => {
  const deletion = { id: "e5a13d4f-7e56-45d4-9df1-c405eb31cd57", deleted: true, deleted_at: "2026-12-07T08:13:02Z" };
  const page = (changes, nextSince, hasMore) => json(200, { changes, next_since: nextSince, has_more: hasMore });
  const sinceOf = (request) => new URL(request.url).searchParams.get("since");

  test("follows next_since while has_more, to the end", async () => {
    const { client, requests } = scripted([
      page([{ id: TASK_ID, deleted: false, task: A_TASK }], "a.1", true),
      page([], "a.2", true),
      page([deletion], "a.3", false),
    ]);
    const answer = await client.syncTasks(USER, undefined, { limit: 1 });
    assert.deepEqual(answer, {
      success: true,
      data: { changes: [{ id: TASK_ID, deleted: false, task: A_TASK }, deletion], nextSince: "a.3" },
    });
    assert.deepEqual(requests.map(sinceOf), [null, "a.1", "a.2"]);
    assert.ok(requests.every((request) => new URL(request.url).pathname === `/api/${USER}/tasks/changes`));
    assert.ok(requests.every((request) => new URL(request.url).searchParams.get("limit") === "1"));
    assert.ok(requests.every((request) => request.method === "GET" && !request.headers.has("Idempotency-Key")));
  });

  test("starts from the since it is given; nothing new is no changes and the same token", async () => {
    const { client, requests } = scripted([page([], "b.7", false)]);
    assert.deepEqual(await client.syncTasks(USER, "b.7"), { success: true, data: { changes: [], nextSince: "b.7" } });
    assert.deepEqual(requests.map(sinceOf), ["b.7"]);
    assert.equal(new URL(requests[0].url).searchParams.get("limit"), null);
  });

  test("410 is SYNC_EXPIRED", async () => {
    const { client } = scripted([page([deletion], "c.1", true), problem(410, "SYNC_EXPIRED")]);
    const answer = await client.syncTasks(USER, "c.0");
    assert.deepEqual(answer, { success: false, error: { code: "SYNC_EXPIRED", message: "said 410", status: 410 } });

    const silent = scripted([new Response(null, { status: 410 })]);
    assert.deepEqual((await silent.client.syncTasks(USER, "c.0")).error, {
      code: "SYNC_EXPIRED",
      message: "The tasks kept here are too old to bring up to date. They must be loaded again in full.",
      status: 410,
    });
  });

  test("a page that fails for a moment is asked again; one that keeps failing fails the sync", async () => {
    const { client, requests } = scripted([
      page([], "d.1", true),
      problem(503, "SERVICE_UNAVAILABLE"),
      page([], "d.2", false),
    ]);
    assert.deepEqual(await client.syncTasks(USER), { success: true, data: { changes: [], nextSince: "d.2" } });
    assert.deepEqual(requests.map(sinceOf), [null, "d.1", "d.1"]);

    const down = scripted([page([], "d.1", true), networkError()], { retries: 0 });
    assert.deepEqual((await down.client.syncTasks(USER)).error, {
      code: "BACKEND_UNAVAILABLE",
      message: "The service is unavailable right now. Please try again shortly.",
    });
  });
});
