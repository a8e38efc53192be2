// The REST client: same-origin cookies (the HttpOnly session), the CSRF header on unsafe methods,
// the API's error body turned into an ApiError, and a sign-out signal on 401.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public requestId?: string,
    public details?: unknown,
  ) {
    super(message);
  }
}

type Listener = (code: string) => void;
const unauthorizedListeners = new Set<Listener>();
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn);
  return () => void unauthorizedListeners.delete(fn);
}

export function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)dd_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export interface RequestOptions {
  ifMatch?: string;
  idempotencyKey?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export function requestInit(method: string, body?: unknown, opts: RequestOptions = {}): RequestInit {
  const headers: Record<string, string> = { Accept: "application/json", ...(opts.headers ?? {}) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRF-Token"] = csrfToken();
  if (opts.ifMatch) headers["If-Match"] = `"${opts.ifMatch}"`;
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  return {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: opts.signal,
  };
}

export async function errorFrom(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText || "request failed";
  let details: unknown;
  try {
    const body = await res.json();
    code = body.code ?? code;
    message = body.message ?? message;
    details = body.details;
  } catch {
    /* not JSON */
  }
  if (res.status === 401) unauthorizedListeners.forEach((fn) => fn(code));
  return new ApiError(res.status, code, message, res.headers.get("X-Request-ID") ?? undefined, details);
}

export async function api<T = any>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, requestInit(method, body, opts));
  } catch (err) {
    throw new ApiError(0, "network_error", `the server is unreachable (${(err as Error).message})`);
  }
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T = any>(path: string) => api<T>("GET", path);
export const post = <T = any>(path: string, body?: unknown, opts?: RequestOptions) => api<T>("POST", path, body ?? {}, opts);
export const patch = <T = any>(path: string, body: unknown, opts?: RequestOptions) => api<T>("PATCH", path, body, opts);
export const del = (path: string) => api<void>("DELETE", path);

export function newKey(): string {
  return crypto.randomUUID();
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  return String((err as Error)?.message ?? err);
}
