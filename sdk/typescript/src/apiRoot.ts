/**
 * The base URL both clients take (the Python one in sdk/python-templates/client.py.jinja, by the same rules): the
 * API root, i.e. the spec's `servers` URL on the service's origin, `http://127.0.0.1:8000/api`, a trailing slash
 * allowed. A URL whose path does not end in `/api` is read as the service's origin (behind a proxy, with the prefix
 * the proxy mounts it under), and `/api` is added, as this client always did. A URL that can be neither is refused
 * when the client is created, instead of answering every call with a misleading 404 or BACKEND_UNAVAILABLE.
 */
const EXAMPLE = "http://127.0.0.1:8000/api";
const PASS_THE_ROOT = `pass the API root, e.g. ${EXAMPLE}`;

function refused(problem: string): TypeError {
  return new TypeError(`createTasksClient: baseUrl ${problem}`);
}

/** The API root `baseUrl` names, without a trailing slash; throws a TypeError saying what is wrong with it. */
export function apiRoot(baseUrl: unknown): string {
  if (typeof baseUrl !== "string" || !baseUrl.trim()) {
    throw refused(
      `is required: the API root, e.g. ${EXAMPLE} (process.env.BACKEND_URL read in server code; a browser-only ` +
        "variable is undefined in a server action)",
    );
  }
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw refused(`${JSON.stringify(baseUrl)} is not an absolute URL; ${PASS_THE_ROOT}`);
  }
  // Never echoed: the message would carry the password into logs.
  if (url.username || url.password) throw refused(`must not carry a user name or password; ${PASS_THE_ROOT}`);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw refused(`${JSON.stringify(baseUrl)} is not an http or https URL; ${PASS_THE_ROOT}`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  const shown = JSON.stringify(url.origin + path);
  if (/[?#]/.test(baseUrl)) throw refused(`${shown} must not carry a query or a fragment; ${PASS_THE_ROOT}`);
  const segments = path.split("/");
  const api = segments.indexOf("api");
  if (api === segments.length - 1) return url.origin + path;
  if (api !== -1) {
    const root = url.origin + segments.slice(0, api + 1).join("/");
    throw refused(`${shown} names a path under the API root; pass the API root itself, ${JSON.stringify(root)}`);
  }
  return `${url.origin}${path}/api`;
}
