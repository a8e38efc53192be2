// The agent chat (Agent mode for the project, Pro mode for one shot and track): streamed turns,
// proposals as a card with the diff of shot fields, what will be generated and the estimated
// cost (money and GPU time, computed by the server), Confirm / Decline, one-click undo (roll back
// the snapshot the turn took first), and under each applied turn links to what it touched — the
// ids come from the API's `touched`, never from the sentence.
import { useEffect, useRef, useState } from "preact/hooks";
import { errorText, get, newKey, post } from "./api";
import { t } from "./i18n";
import { postStream } from "./sse";
import type { Estimate, OpenTarget, Shot, Touched } from "./types";
import { gpuTime, money, shotLabel } from "./util";

interface Line {
  role: "user" | "assistant" | "system" | "error";
  text: string;
  snapshotId?: string | null;
  undone?: boolean;
  results?: { touched?: Touched }[];
}

interface Proposal {
  proposal: any;
  message: string;
}

function fromHistory(messages: any[]): Line[] {
  return messages
    .filter((m) => m.role === "user" || m.role === "assistant")
    .map((m) => {
      const reply = m.data?.reply ?? {};
      return {
        role: m.role,
        text: m.content,
        snapshotId: m.role === "assistant" && reply.status !== "awaiting_confirmation" ? reply.snapshot_id : null,
        results: m.role === "assistant" ? reply.results : undefined,
      } as Line;
    });
}

function shotList(shots: any): number[] | "all" {
  if (shots === "all") return "all";
  if (Array.isArray(shots)) return shots.map(Number);
  if (typeof shots === "number") return [shots];
  return [];
}

function flatten(obj: Record<string, any>, prefix = ""): [string, any][] {
  return Object.entries(obj ?? {}).flatMap(([k, v]) =>
    v && typeof v === "object" && !Array.isArray(v) ? flatten(v, `${prefix}${k}.`) : [[`${prefix}${k}`, v] as [string, any]],
  );
}

function lookup(spec: Record<string, any>, path: string): any {
  return path.split(".").reduce((o: any, k) => (o == null ? undefined : o[k]), spec);
}

function show(v: any): string {
  if (v === undefined || v === null || v === "") return "—";
  const text = typeof v === "string" ? v : JSON.stringify(v);
  return text.length > 48 ? `${text.slice(0, 47)}…` : text;
}

interface Link {
  key: string;
  label: string;
  href: string;
  target: OpenTarget;
}

/** The links of one turn's results: shots → card, images → Pro drawer, tasks → queue row (a cut →
 * the player), exports → the download. A shot that no longer exists is named, not linked. */
function resultLinks(ws: string, results: { touched?: Touched }[] | undefined, shots: Shot[]): { links: Link[]; gone: string[] } {
  const byId = new Map(shots.map((s) => [s.id, s]));
  const label = (id: string | null, idx: number | null) => shotLabel(byId.get(id ?? "")?.idx ?? idx ?? 0);
  const links = new Map<string, Link>();
  const gone = new Set<string>();
  for (const r of results ?? []) {
    const touched = r.touched;
    if (!touched) continue;
    for (const s of touched.shots ?? []) {
      if (!byId.has(s.work_item_id)) {
        if (s.idx != null) gone.add(shotLabel(s.idx));
        continue;
      }
      links.set(`shot-${s.work_item_id}`, { key: `shot-${s.work_item_id}`, label: label(s.work_item_id, s.idx), href: `#/p/${ws}`, target: { kind: "shot", id: s.work_item_id } });
    }
    for (const n of touched.nodes ?? []) {
      if (!n.work_item_id || !byId.has(n.work_item_id)) continue;
      const what = n.cell != null ? `${t("image")} #${n.cell}` : n.type;
      links.set(`node-${n.node_id}`, {
        key: `node-${n.node_id}`,
        label: `${label(n.work_item_id, null)} · ${what}`,
        href: `#/p/${ws}/shot/${n.work_item_id}/node/${n.node_id}`,
        target: { kind: "node", id: n.node_id, workItemId: n.work_item_id },
      });
    }
    for (const task of touched.tasks ?? []) {
      if (task.type === "export") continue; // linked as its download below
      const shot = task.work_item_id && byId.has(task.work_item_id) ? ` · ${label(task.work_item_id, null)}` : "";
      const text = task.type === "compose" ? `${t("openPlayer")} (${task.type})` : `${t("queue")}: ${task.type}${shot}`;
      links.set(`task-${task.task_id}`, { key: `task-${task.task_id}`, label: text, href: `#/p/${ws}`, target: { kind: "task", id: task.task_id, type: task.type } });
    }
    for (const e of touched.exports ?? []) {
      links.set(`export-${e.task_id}`, { key: `export-${e.task_id}`, label: t("openDownload"), href: `#/p/${ws}`, target: { kind: "export", id: e.task_id } });
    }
  }
  return { links: [...links.values()], gone: [...gone] };
}

function ResultLinks({ ws, results, shots, onOpen }: { ws: string; results: Line["results"]; shots: Shot[]; onOpen: (target: OpenTarget) => void }) {
  const { links, gone } = resultLinks(ws, results, shots);
  if (!links.length && !gone.length) return null;
  const MAX = 12; // a turn on "all" of 60 shots: the first dozen, then how many more
  return (
    <span class="result-links" role="group" aria-label={t("touched")}>
      <span class="muted">{t("touched")}:</span>
      {links.slice(0, MAX).map((l) => (
        <a
          key={l.key}
          href={l.href}
          onClick={(e) => {
            e.preventDefault();
            onOpen(l.target);
          }}
        >
          {l.label}
        </a>
      ))}
      {links.length > MAX && <span class="muted">+{links.length - MAX}</span>}
      {gone.map((g) => (
        <span class="gone">{g}</span>
      ))}
    </span>
  );
}

function EstimateLine({ estimate, units, snapshotFirst }: { estimate: Estimate | undefined; units: number; snapshotFirst: boolean }) {
  return (
    <p class="estimate">
      {t("estimatedCost")}: {estimate ? <strong data-cost-usd={estimate.cost_usd}>≈ {money(estimate.cost_usd)}</strong> : null}
      {estimate ? (
        <>
          {" · "}
          {t("gpuTime")} <strong data-gpu-seconds={estimate.gpu_seconds}>≈ {gpuTime(estimate.gpu_seconds)}</strong>
          {estimate.llm_calls ? ` · ${t("llmCalls")}: ${estimate.llm_calls}` : ""}
          {" · "}
        </>
      ) : null}
      <span class="muted">
        {units} {t("units")}
      </span>
      {snapshotFirst ? ` · ${t("snapshotFirst")}` : ""}
    </p>
  );
}

export function ProposalCard({ proposal, shots, onAnswer, busy }: { proposal: Proposal; shots: Shot[]; onAnswer: (approve: boolean) => void; busy: boolean }) {
  const p = proposal.proposal ?? {};
  const actions: any[] = p.turn?.actions ?? [];
  const changes: { shot: number; field: string; before: string; after: string }[] = [];
  const gens: string[] = [];
  const others: string[] = [];
  for (const a of actions) {
    const targets = shotList(a.args?.shots ?? a.args?.shot);
    const idxs = targets === "all" ? shots.map((s) => s.idx) : targets;
    if (a.type === "shot.update") {
      for (const idx of idxs) {
        const shot = shots.find((s) => s.idx === idx);
        for (const [field, after] of flatten(a.args?.patch ?? {})) {
          if (after === null || after === undefined) continue; // fields the patch leaves alone
          changes.push({ shot: idx, field, before: show(shot ? lookup(shot.spec, field) : undefined), after: show(after) });
        }
      }
    } else if (a.type.startsWith("gen.")) {
      const what = a.type.slice(4);
      const detail = a.type === "gen.grid" ? ` · ${a.args?.size ?? 4} cells` : "";
      gens.push(`${what}: ${targets === "all" ? t("all") : idxs.map((i) => `#${i}`).join(", ")}${detail}`);
    } else {
      others.push(`${a.type}${idxs.length ? ` (${idxs.map((i) => `#${i}`).join(", ")})` : ""}`);
    }
  }
  return (
    <section class="proposal" aria-label={t("proposal")}>
      <h3>{t("proposal")}</h3>
      <p>{proposal.message}</p>
      {p.reason && <p class="muted">{p.reason}</p>}
      {changes.length > 0 && (
        <>
          <h4>{t("willChange")}</h4>
          <table class="diff-table">
            <tbody>
              {changes.map((c) => (
                <tr>
                  <th scope="row">#{c.shot}</th>
                  <td>{c.field}</td>
                  <td class="before" title={c.before}>{c.before}</td>
                  <td aria-hidden="true">→</td>
                  <td class="after">{c.after}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {others.length > 0 && (
        <ul class="others">
          {others.map((o) => (
            <li>{o}</li>
          ))}
        </ul>
      )}
      <h4>{t("willGenerate")}</h4>
      <p>{gens.length ? gens.join("; ") : "—"}</p>
      <EstimateLine estimate={p.estimate} units={p.estimated_cost ?? 0} snapshotFirst={!!p.snapshot_first} />
      <div class="row">
        <button onClick={() => onAnswer(true)} disabled={busy}>{t("confirm")}</button>
        <button class="ghost" onClick={() => onAnswer(false)} disabled={busy}>{t("decline")}</button>
      </div>
    </section>
  );
}

export function Chat(props: { workspaceId: string; mode: "agent" | "pro"; workItemId?: string; trackId?: string; shots: Shot[]; onChanged: () => void; onOpen: (target: OpenTarget) => void; tick: number; title?: string }) {
  const { workspaceId: ws, mode } = props;
  const [conv, setConv] = useState<string | null>(null);
  const [lines, setLines] = useState<Line[]>([]);
  const [pending, setPending] = useState<Proposal | null>(null);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [activity, setActivity] = useState<string[]>([]);
  const [error, setError] = useState("");
  const logRef = useRef<HTMLOListElement>(null);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      try {
        const q = new URLSearchParams({ workspace_id: ws, mode });
        if (props.workItemId) q.set("work_item_id", props.workItemId);
        const list: any[] = await get(`/conversations?${q}`);
        let found = list.find((c) => (props.trackId ? c.track_id === props.trackId : true));
        if (!found) {
          found = await post(`/conversations`, {
            workspace_id: ws,
            mode,
            work_item_id: props.workItemId ?? null,
            track_id: props.trackId ?? null,
          });
        }
        if (cancelled) return;
        setConv(found.id);
        const history = await get(`/conversations/${found.id}`);
        if (cancelled) return;
        setLines(fromHistory(history.messages));
        setPending(history.pending ?? null);
      } catch (err) {
        if (!cancelled) setError(errorText(err));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [ws, mode, props.workItemId, props.trackId]);

  useEffect(() => {
    logRef.current?.lastElementChild?.scrollIntoView({ block: "end" });
  }, [lines, pending, activity]);

  async function send(e: Event) {
    e.preventDefault();
    const message = text.trim();
    if (!message || !conv) return;
    setText("");
    setBusy(true);
    setError("");
    setActivity([]);
    setPending(null);
    setLines((l) => [...l, { role: "user", text: message }]);
    let assistant: Line | null = null;
    const results: { touched?: Touched }[] = [];
    try {
      await postStream(
        `/conversations/${conv}/messages`,
        { text: message },
        (ev) => {
          const data = JSON.parse(ev.data || "{}");
          switch (ev.event) {
            case "progress":
              setActivity((a) => [...a.slice(-4), `${data.kind} ${data.data?.type ?? ""}`.trim()]);
              if (String(data.kind).startsWith("work_item") || data.kind === "actions.applied") props.onChanged();
              break;
            case "plan":
              if (data.intent) setActivity((a) => [...a, `→ ${data.intent}`]);
              break;
            case "proposal":
              setPending({ proposal: data.proposal, message: data.message });
              break;
            case "action_result":
              results.push(data);
              setActivity((a) => [...a.slice(-4), `${data.type}: ${data.status}${data.error ? ` (${data.error.code}: ${data.error.message})` : ""}`]);
              break;
            case "task_started":
              setActivity((a) => [...a.slice(-4), `▶ ${data.type} ${String(data.workflow_id ?? "").slice(0, 40)}`]);
              break;
            case "assistant_text":
              assistant = { role: "assistant", text: data.text, results: [...results] };
              setLines((l) => [...l, assistant!]);
              break;
            case "done":
              if (assistant && data.status !== "awaiting_confirmation" && data.snapshot_id) {
                const snap = data.snapshot_id;
                setLines((l) => l.map((x) => (x === assistant ? { ...x, snapshotId: snap } : x)));
              }
              props.onChanged();
              break;
            case "error":
              setLines((l) => [...l, { role: "error", text: `${data.code}: ${data.message}` }]);
              break;
          }
        },
        newKey(),
      );
    } catch (err) {
      setLines((l) => [...l, { role: "error", text: errorText(err) }]);
    } finally {
      setBusy(false);
    }
  }

  async function answer(approve: boolean) {
    if (!conv) return;
    setBusy(true);
    setError("");
    try {
      const reply: any = await post(`/conversations/${conv}/confirm`, { approve });
      setPending(null);
      setLines((l) => [...l, { role: "assistant", text: reply.message || (approve ? t("done") : t("declined")), snapshotId: approve ? reply.snapshot_id : null, results: reply.results }]);
      props.onChanged();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  async function undo(line: Line) {
    if (!line.snapshotId) return;
    setError("");
    try {
      await post(`/workspaces/${ws}/snapshots/${line.snapshotId}/rollback`);
      setLines((l) => [...l.map((x) => (x === line ? { ...x, undone: true } : x)), { role: "system", text: t("undone") }]);
      props.onChanged();
    } catch (err) {
      setError(errorText(err));
    }
  }

  const inputId = `chat-input-${mode}`;
  return (
    <aside class={`chat chat-${mode}`} aria-label={props.title ?? t("agent")}>
      <h2>{props.title ?? t("agent")}</h2>
      <ol class="log" ref={logRef} aria-live="polite">
        {lines.map((line) => (
          <li class={`msg ${line.role}`}>
            <span class="who">{line.role === "user" ? t("you") : line.role === "assistant" ? t("assistant") : line.role === "error" ? t("error") : "·"}</span>
            <span class="text">{line.text}</span>
            {line.role === "assistant" && <ResultLinks ws={ws} results={line.results} shots={props.shots} onOpen={props.onOpen} />}
            {line.snapshotId && !line.undone && (
              <button class="ghost undo" onClick={() => undo(line)} aria-label={`${t("undo")}: ${line.text.slice(0, 40)}`}>
                ↶ {t("undo")}
              </button>
            )}
          </li>
        ))}
        {busy && activity.length > 0 && (
          <li class="msg activity" role="status">
            {activity.map((a) => (
              <span class="act">{a}</span>
            ))}
          </li>
        )}
      </ol>
      {pending && <ProposalCard proposal={pending} shots={props.shots} onAnswer={answer} busy={busy} />}
      {error && <p class="error" role="alert">{error}</p>}
      <form class="chat-form" onSubmit={send}>
        <label for={inputId} class="sr-only">{t("chatPlaceholder")}</label>
        <input id={inputId} name="message" value={text} maxLength={4000} placeholder={t("chatPlaceholder")} onInput={(e) => setText((e.target as HTMLInputElement).value)} disabled={!conv} autoComplete="off" />
        <button type="submit" disabled={busy || !conv || !text.trim()}>{t("send")}</button>
      </form>
    </aside>
  );
}
