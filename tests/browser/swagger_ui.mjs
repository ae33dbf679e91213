// Swagger UI in a real browser (the machine's Chromium, driven by playwright-core): the Authorize dialog says how to
// get a token for the user the operations are filled in with; authorize with one, run "Try it out" on create as
// Swagger UI fills it in and see 201, then on list and see the task. Environment: TASKS_API_URL, TASKS_API_USER (the
// spec's example user id), TASKS_API_TOKEN, OUTPUT (a folder for the screenshot). Exits non-zero on any failure.
import { chromium } from "playwright-core";

const { TASKS_API_URL: baseUrl, TASKS_API_USER: user, TASKS_API_TOKEN: token, OUTPUT: output } = process.env;
const title = "Buy milk"; // the example Swagger UI fills the body in with

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // As root in a sandbox-less machine, and without the background traffic a closed network refuses.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
try {
  await page.goto(`${baseUrl}/api/ui/`);
  await page.locator(".swagger-ui .opblock").first().waitFor();

  await page.locator("button.authorize").first().click();
  const dialog = await page.locator(".modal-ux").innerText();
  if (!dialog.includes(`uv run tasks-api token --user ${user}`) || /\bx-[a-z]/.test(dialog)) {
    throw new Error(`the Authorize dialog does not say how to get a token for ${user}: ${dialog.slice(0, 1000)}`);
  }
  await page.locator(".modal-ux input").first().fill(token);
  await page.locator(".modal-ux .auth-btn-wrapper button.authorize").click();
  await page.locator(".modal-ux button.btn-done").click();

  // "Try it out" as Swagger UI fills it in: nothing typed.
  async function tryOut(operationId) {
    const operation = page.locator(`#operations-tasks-${operationId}`);
    await operation.locator(".opblock-summary").click();
    const answers = await operation.locator(".responses-wrapper").innerText();
    if (answers.includes('"title": "string"')) throw new Error(`${operationId} shows no real example: ${answers}`);
    await operation.locator("button.try-out__btn").click();
    const filledIn = await operation.locator('tr[data-param-name="user_id"] input').inputValue();
    if (filledIn !== user) throw new Error(`${operationId}: user_id is filled in with "${filledIn}", not ${user}`);
    await operation.locator("button.execute").click();
    const live = operation.locator(".live-responses-table .response");
    await live.first().waitFor();
    return live.first();
  }

  const createdRow = await tryOut("create_task");
  const createdStatus = (await createdRow.locator(".response-col_status").innerText()).trim();
  if (createdStatus !== "201") {
    const body = await createdRow.locator(".response-col_description").innerText();
    throw new Error(`create answered ${createdStatus} in Swagger UI: ${body.slice(0, 500)}`);
  }

  const listedRow = await tryOut("list_tasks");
  const listedStatus = (await listedRow.locator(".response-col_status").innerText()).trim();
  const listedBody = await listedRow.locator(".response-col_description").innerText();
  if (listedStatus !== "200" || !listedBody.includes(title)) {
    throw new Error(`list answered ${listedStatus} without the task: ${listedBody.slice(0, 500)}`);
  }
  console.log(`created 201 and listed "${title}"`);
} finally {
  await page.screenshot({ path: `${output}/swagger-ui.png`, fullPage: true });
  await browser.close();
}
