/**
 * The harness's HTTP calls to the store. Failures are RequestFailures naming
 * what the client saw; outcome.ts decides what each means for the request.
 */
import { RequestFailure, type FailureCause } from "./outcome.js";

export class HttpStatusError extends RequestFailure {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super("error answer", `HTTP ${status}: ${body.slice(0, 200)}`);
  }
}

export async function send(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  const deadline = init.signal ? undefined : new Deadline(timeoutMs);
  try {
    return await fetch(url, { ...init, signal: init.signal ?? deadline!.signal });
  } catch (error) {
    throw new RequestFailure(causeOf(error), `${messageOf(error)}: ${url}`);
  } finally {
    deadline?.release();
  }
}

/**
 * AbortSignal.timeout whose timer holds the process open until the response
 * arrives. A container's published port is taken by docker-proxy before the
 * member inside listens; a request accepted there can wait with no handle
 * holding the event loop, and the harness would exit with it unsettled.
 * Once the response has come, the timer still bounds reading its body but
 * no longer keeps the process alive.
 */
class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(timeoutMs: number) {
    this.timer = setTimeout(() => this.controller.abort(new DOMException("The operation timed out.", "TimeoutError")), timeoutMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  release(): void {
    this.timer.unref();
  }
}

/** The response's body as text when its status is one of `accepted`, else an HttpStatusError. */
export async function textOf(response: Response, accepted: readonly number[] = [200]): Promise<string> {
  const body = await response.text();
  if (!accepted.includes(response.status)) throw new HttpStatusError(response.status, body);
  return body;
}

/** POSTs JSON to the etcd gateway (with `authorization` as etcd's gateway takes a token) and returns the parsed reply. */
export async function postJson<Reply>(baseUrl: string, path: string, body: unknown, timeoutMs: number, authorization?: string): Promise<Reply> {
  const init: RequestInit = { method: "POST", body: JSON.stringify(body), ...(authorization !== undefined && { headers: { authorization } }) };
  const response = await send(`${baseUrl}${path}`, init, timeoutMs);
  return JSON.parse(await textOf(response)) as Reply;
}

export const b64 = (text: string): string => Buffer.from(text).toString("base64");
export const unb64 = (text: string): string => Buffer.from(text, "base64").toString();

/** fetch rejects with a TypeError whose cause is the socket's error, or with the abort reason. */
function causeOf(error: unknown): FailureCause {
  if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) return "timed out";
  return causeCode(error) === "ECONNREFUSED" ? "not sent" : "connection lost";
}

function causeCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}
