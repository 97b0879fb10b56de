/**
 * Building blocks for provider fakes: real HTTP servers on 127.0.0.1 that speak a provider's wire
 * protocol. Test files run in parallel and share one fake, so everything a test scripts or reads
 * back is keyed by a `scope` the test chooses (a model name, a phone number, an account id).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface RecordedRequest {
  scope: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  at: string;
}

export interface Failure {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeState<Script> {
  /** Requests seen, by scope. */
  requests: Map<string, RecordedRequest[]>;
  /** Scripted responses waiting to be used, by scope, first in first out. */
  scripts: Map<string, Script[]>;
  /** Failures to answer before any script, by scope. */
  failures: Map<string, Failure[]>;
  /** Delays (ms) the next calls wait before answering, by scope, first in first out. */
  delays: Map<string, number[]>;
}

/**
 * A request as handlers see it: `body` is parsed JSON, a parsed form, or the body as UTF-8 text;
 * `rawBody` is the exact bytes, for binary uploads (multipart audio) that must not go through UTF-8.
 */
export type FakeRequest = IncomingMessage & { body: unknown; rawBody: Buffer };

export type FakeHandler<Script> = (req: FakeRequest, res: ServerResponse, state: FakeState<Script>) => Promise<void> | void;

export interface RunningFake {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts a fake. Control endpoints, used by tests over HTTP:
 * - `POST /_fake/scripts {scope, responses:[...]}` queues scripted responses;
 * - `POST /_fake/failures {scope, failures:[{status, body, headers?}]}` makes the next calls fail;
 * - `POST /_fake/delays {scope, ms, count?}` makes the next `count` (default 1) calls wait `ms` before
 *   answering (for fakes whose handlers call `recordDelayAndMaybeFail`);
 * - `GET /_fake/requests?scope=` returns what the fake received.
 * Other `/_fake/*` paths reach the fake's handler, for control endpoints of its own.
 */
export async function startFake<Script>(handler: FakeHandler<Script>): Promise<RunningFake> {
  const state: FakeState<Script> = { requests: new Map(), scripts: new Map(), failures: new Map(), delays: new Map() };
  const server: Server = createServer(async (req, res) => {
    try {
      const rawBody = await readBody(req);
      const raw = rawBody.toString("utf8");
      const contentType = req.headers["content-type"] ?? "";
      const body: unknown =
        contentType.includes("application/json") && raw
          ? JSON.parse(raw)
          : contentType.includes("form-urlencoded")
            ? Object.fromEntries(new URLSearchParams(raw))
            : raw;
      const url = new URL(req.url ?? "/", "http://fake");
      if (url.pathname.startsWith("/_fake/") && control(url, req.method ?? "GET", body as Record<string, unknown>, res, state)) return;
      await handler(Object.assign(req, { body, rawBody }), res, state);
    } catch (error) {
      sendJson(res, 500, { error: { message: `fake crashed: ${error instanceof Error ? error.message : String(error)}` } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers the shared control endpoints; false when the path is not one of them. */
function control<Script>(url: URL, method: string, body: Record<string, unknown>, res: ServerResponse, state: FakeState<Script>): boolean {
  if (method === "POST" && url.pathname === "/_fake/scripts") {
    const scope = String(body.scope);
    state.scripts.set(scope, [...(state.scripts.get(scope) ?? []), ...(body.responses as Script[])]);
    sendJson(res, 204, null);
    return true;
  }
  if (method === "POST" && url.pathname === "/_fake/failures") {
    const scope = String(body.scope);
    state.failures.set(scope, [...(state.failures.get(scope) ?? []), ...(body.failures as Failure[])]);
    sendJson(res, 204, null);
    return true;
  }
  if (method === "POST" && url.pathname === "/_fake/delays") {
    const scope = String(body.scope);
    const ms = Number(body.ms);
    const count = body.count === undefined ? 1 : Number(body.count);
    if (!Number.isFinite(ms) || ms < 0 || !Number.isInteger(count) || count < 1) {
      sendJson(res, 400, { error: { message: "delays need ms >= 0 and an integer count >= 1" } });
      return true;
    }
    state.delays.set(scope, [...(state.delays.get(scope) ?? []), ...Array.from({ length: count }, () => ms)]);
    sendJson(res, 204, null);
    return true;
  }
  if (method === "GET" && url.pathname === "/_fake/requests") {
    sendJson(res, 200, state.requests.get(url.searchParams.get("scope") ?? "") ?? []);
    return true;
  }
  return false;
}

/**
 * Records a request under `scope` and answers a queued failure if there is one (returns true).
 * `recordedBody` replaces `req.body` in the record (a summary instead of binary audio).
 */
export function recordAndMaybeFail<Script>(
  req: IncomingMessage & { body: unknown },
  res: ServerResponse,
  state: FakeState<Script>,
  scope: string,
  recordedBody: unknown = req.body,
): boolean {
  recordRequest(req, state, scope, recordedBody);
  return answerFailure(res, state, scope);
}

/** `recordAndMaybeFail`, waiting out a queued delay for `scope` first (the request is recorded on arrival). */
export async function recordDelayAndMaybeFail<Script>(
  req: IncomingMessage & { body: unknown },
  res: ServerResponse,
  state: FakeState<Script>,
  scope: string,
  recordedBody: unknown = req.body,
): Promise<boolean> {
  recordRequest(req, state, scope, recordedBody);
  const delay = state.delays.get(scope)?.shift();
  if (delay) {
    // A client that goes away ends the wait, as a real server stops working on a dropped request;
    // nothing is answered then (and no timer outlives the test run).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      res.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (res.destroyed || res.writableEnded) return true;
  }
  return answerFailure(res, state, scope);
}

function recordRequest<Script>(req: IncomingMessage, state: FakeState<Script>, scope: string, body: unknown) {
  const list = state.requests.get(scope) ?? [];
  list.push({
    scope,
    method: req.method ?? "GET",
    path: req.url ?? "/",
    headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")])),
    body,
    at: new Date().toISOString(),
  });
  state.requests.set(scope, list);
}

function answerFailure<Script>(res: ServerResponse, state: FakeState<Script>, scope: string): boolean {
  const failure = state.failures.get(scope)?.shift();
  if (!failure) return false;
  sendJson(res, failure.status, failure.body, failure.headers);
  return true;
}

export function nextScript<Script>(state: FakeState<Script>, scope: string): Script | undefined {
  return state.scripts.get(scope)?.shift();
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (status === 204) {
    res.writeHead(204, headers).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

/**
 * Answers `status` with binary `chunks`: one body with a Content-Length when there is one chunk,
 * otherwise chunked transfer with `gapMs` between chunks (a streamed answer whose first bytes come early).
 */
export async function sendBytes(res: ServerResponse, status: number, headers: Record<string, string>, chunks: Uint8Array[], gapMs = 0): Promise<void> {
  if (chunks.length === 1) {
    const [only] = chunks as [Uint8Array];
    res.writeHead(status, { ...headers, "content-length": String(only.byteLength) }).end(only);
    return;
  }
  res.writeHead(status, headers);
  for (const [index, chunk] of chunks.entries()) {
    if (index > 0 && gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    if (res.destroyed) return;
    res.write(chunk);
  }
  res.end();
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
