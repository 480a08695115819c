// The admin API client: bearer tokens kept in sessionStorage (this tab only, never localStorage),
// one refresh on 401 (shared by concurrent calls), errors as ApiError with the BFF's envelope.

const STORE_KEY = "msb.console.session";

let session = load();
let refreshing = null;
const listeners = new Set();

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE_KEY)) || null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(STORE_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(STORE_KEY);
}

export function onSessionEnd(callback) {
  listeners.add(callback);
}

export function hasSession() {
  return Boolean(session && session.access_token);
}

export class ApiError extends Error {
  constructor(status, body, headers) {
    const envelope = body && typeof body === "object" ? body : {};
    super(envelope.message || `请求失败（HTTP ${status}）`);
    this.status = status;
    this.code = envelope.error || envelope.code_name || String(status);
    this.details = envelope.errors || envelope.details || {};
    this.retryAfter = Number(headers && headers.get("Retry-After")) || Number(this.details.retry_after) || 0;
  }
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) return response.json();
  return response.text();
}

async function raw(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
}

function endSession(reason) {
  save(null);
  for (const callback of listeners) callback(reason);
}

async function refresh() {
  if (!session || !session.refresh_token) throw new ApiError(401, { message: "登录已过期，请重新登录" });
  if (!refreshing) {
    const token = session.refresh_token;
    refreshing = (async () => {
      const response = await raw("POST", "/v1/admin/auth/refresh", { refresh_token: token });
      const body = await parse(response);
      if (!response.ok) {
        endSession("expired");
        throw new ApiError(response.status, body, response.headers);
      }
      save({ ...session, ...body });
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

export async function call(method, path, body) {
  if (refreshing) await refreshing.catch(() => {});
  let response = await raw(method, path, body, session && session.access_token);
  if (response.status === 401 && session && session.refresh_token) {
    await refresh();
    response = await raw(method, path, body, session.access_token);
  }
  const data = await parse(response);
  if (!response.ok) {
    if (response.status === 401 && session) endSession("expired");
    throw new ApiError(response.status, data, response.headers);
  }
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body === undefined ? {} : body);
export const patch = (path, body) => call("PATCH", path, body);

export async function login(username, password) {
  const response = await raw("POST", "/v1/admin/auth/login", { username, password });
  const data = await parse(response);
  if (!response.ok) throw new ApiError(response.status, data, response.headers);
  save({ access_token: data.access_token, refresh_token: data.refresh_token });
  return data;
}

export async function logout() {
  try {
    if (session) await raw("POST", "/v1/admin/auth/logout", undefined, session.access_token);
  } finally {
    endSession("logout");
  }
}

// Lists come back either bare or wrapped ({campaigns: [...]}, {items: [...]}).
export function listOf(data, ...names) {
  if (Array.isArray(data)) return data;
  for (const name of [...names, "items", "results", "data"]) {
    if (data && Array.isArray(data[name])) return data[name];
  }
  return [];
}
