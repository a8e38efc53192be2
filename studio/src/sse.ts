// Server-Sent Events over fetch (so a POST can stream, and every event name is seen): a parser
// for text/event-stream, and a workspace stream that reconnects with Last-Event-ID and so
// misses nothing.
import { errorFrom, requestInit } from "./api";

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export async function readSse(res: Response, onEvent: (e: SseEvent) => void): Promise<void> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "message";
  let data: string[] = [];
  let id: string | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let nl: number;
    while ((nl = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer[nl] === "\r" ? 2 : 1));
      if (line === "") {
        if (data.length) onEvent({ event, data: data.join("\n"), id });
        event = "message";
        data = [];
        id = undefined;
      } else if (line.startsWith(":")) {
        continue;
      } else {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = val;
        else if (field === "data") data.push(val);
        else if (field === "id") id = val;
      }
    }
  }
}

export async function postStream(path: string, body: unknown, onEvent: (e: SseEvent) => void, idempotencyKey?: string): Promise<void> {
  const init = requestInit("POST", body, { idempotencyKey, headers: { Accept: "text/event-stream" } });
  const res = await fetch(path, init);
  if (!res.ok) throw await errorFrom(res);
  await readSse(res, onEvent);
}

export interface LedgerEvent {
  id: number;
  kind: string;
  data: any;
  created_at: string;
}

/** Follows a workspace's event stream until `stop()`; reconnects after the last id it saw. */
export function followWorkspace(
  workspaceId: string,
  after: number,
  onEvent: (e: LedgerEvent) => void,
  onState: (live: boolean) => void,
): () => void {
  const controller = new AbortController();
  let last = after;
  let stopped = false;
  (async () => {
    let delay = 500;
    while (!stopped) {
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        if (last > 0) headers["Last-Event-ID"] = String(last);
        const res = await fetch(`/workspaces/${workspaceId}/events`, { headers, credentials: "same-origin", signal: controller.signal });
        if (!res.ok) {
          await errorFrom(res);
          if (res.status === 401 || res.status === 404) return;
          throw new Error(`events ${res.status}`);
        }
        onState(true);
        delay = 500;
        await readSse(res, (e) => {
          const parsed = JSON.parse(e.data) as LedgerEvent;
          last = Math.max(last, parsed.id);
          onEvent(parsed);
        });
      } catch {
        if (stopped) return;
      }
      onState(false);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 8000);
    }
  })();
  return () => {
    stopped = true;
    controller.abort();
  };
}
