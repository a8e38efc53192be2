// One project: the storyboard board, the queue, the agent chat, and the player / history / Pro
// drawer over it. Everything is loaded from the API and refreshed from the workspace event
// stream; a reload or a server restart rebuilds the same screen. `task.progress` events move the
// queue's bars in place (no reload); a chat result's links open what it touched.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, errorText, get, newKey, post } from "./api";
import type { Me, StudioConfig } from "./app";
import { LangSwitch } from "./app";
import { Chat } from "./chat";
import { statusText, t } from "./i18n";
import { ProDrawer } from "./pro";
import { followWorkspace } from "./sse";
import type { Cut, OpenTarget, Shot, ShotStages, Stage, Stages, Storyboard, TaskRow } from "./types";
import { gpuTime, money, relPath, seconds, shotCamera, shotLabel, shotTags, temporalLink, thumb } from "./util";

interface Usage {
  by_type: { type: string; tasks: number; succeeded: number; failed: number; canceled: number; busy_seconds: number; gpu_seconds: number; cost: number | null; rate_cost: number }[];
  tasks: number;
  gpu_seconds: number;
  cost: number | null;
  rate_cost: number;
}

// the Action DSL's camera movements (schema/actions.py CameraMovement)
const MOVEMENTS = ["static", "pan", "tilt", "dolly in", "dolly out", "zoom in", "zoom out", "tracking", "handheld", "crane", "orbit"];
const ACTIVE = new Set(["queued", "running"]);

/** A task row from the API, keeping the progress an event already showed for the same run. */
function withProgress(row: TaskRow, shown: TaskRow[]): TaskRow {
  const old = shown.find((x) => x.id === row.id);
  return old && old.status === row.status && ACTIVE.has(row.status) && old.progress > row.progress ? { ...row, progress: old.progress } : row;
}

export interface ProjectData {
  board: Storyboard | null;
  stages: Stages | null;
  tasks: TaskRow[];
  usage: Usage | null;
}

export function ProjectPage(props: { workspaceId: string; proShotId: string | null; proNodeId: string | null; me: Me; config: StudioConfig | null; onSignOut: () => void }) {
  const { workspaceId: ws, proShotId, config } = props;
  const [data, setData] = useState<ProjectData>({ board: null, stages: null, tasks: [], usage: null });
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [live, setLive] = useState(false);
  const [tick, setTick] = useState(0);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [overlay, setOverlay] = useState<"player" | "history" | null>(null);
  const [exportState, setExportState] = useState<{ taskId: string; url?: string; error?: string } | null>(null);
  const [exportOpen, setExportOpen] = useState(false);
  const [focused, setFocused] = useState<{ kind: "shot" | "task"; id: string } | null>(null);
  const timer = useRef<number | undefined>(undefined);
  const exportRef = useRef(exportState);
  exportRef.current = exportState;

  const load = useCallback(async () => {
    try {
      const [board, stages, tasks, usage] = await Promise.all([
        get<Storyboard>(`/workspaces/${ws}/storyboard`),
        get<Stages>(`/workspaces/${ws}/stages`),
        get<TaskRow[]>(`/workspaces/${ws}/tasks?limit=40`),
        get<Usage>(`/workspaces/${ws}/tasks/usage`),
      ]);
      // a load that left before a task.progress event arrived must not move that bar back
      setData((prev) => ({ board, stages, usage, tasks: tasks.map((row) => withProgress(row, prev.tasks)) }));
      setError("");
    } catch (err) {
      setError(errorText(err));
    }
  }, [ws]);

  const schedule = useCallback(() => {
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => {
      load();
      setTick((n) => n + 1);
    }, 150);
  }, [load]);

  useEffect(() => {
    load();
    const stop = followWorkspace(
      ws,
      0,
      (event) => {
        const exp = exportRef.current;
        if (exp && event.data?.task_id === exp.taskId && event.kind.startsWith("task.")) {
          if (event.kind === "task.succeeded") {
            get(`/workspaces/${ws}/exports/${exp.taskId}`).then((out) => setExportState({ taskId: exp.taskId, url: out.download_url }));
          } else if (event.kind === "task.failed" || event.kind === "task.canceled") {
            const e = event.data?.error;
            setExportState({ taskId: exp.taskId, error: e ? `${e.code}: ${e.message}` : event.kind });
          }
        }
        if (event.kind === "task.progress") {
          // the bar moves in place: the row's progress from the event, never backwards
          const { task_id: id, progress } = event.data ?? {};
          setData((d) => ({ ...d, tasks: d.tasks.map((row) => (row.id === id ? { ...row, progress: Math.max(row.progress, Number(progress) || 0) } : row)) }));
          return;
        }
        schedule();
      },
      setLive,
    );
    return () => {
      stop();
      window.clearTimeout(timer.current);
    };
  }, [ws, load, schedule]);

  const board = data.board;
  const stageOf = useMemo(() => {
    const m = new Map<string, ShotStages>();
    data.stages?.shots.forEach((s) => m.set(s.work_item_id, s));
    return m;
  }, [data.stages]);

  const run = async (fn: () => Promise<unknown>) => {
    setError("");
    try {
      await fn();
    } catch (err) {
      setError(errorText(err));
    } finally {
      schedule();
    }
  };

  const targets = (): number[] | "all" => {
    if (!board || selected.size === 0) return "all";
    return board.shots.filter((s) => selected.has(s.id)).map((s) => s.idx);
  };
  const generate = (kind: "grid" | "video" | "voice") =>
    run(() => post(`/workspaces/${ws}/generate/${kind}`, kind === "grid" ? { shots: targets(), size: 4 } : { shots: targets() }, { idempotencyKey: newKey() }));
  const compose = (mode: "preview" | "final") =>
    run(() => post(`/workspaces/${ws}/generate/compose`, { mode }, { idempotencyKey: newKey() }));
  const startExport = (selection: "selected" | "favorites", formats: ExportFormat[] = ["media"]) =>
    run(async () => {
      setExportState(null);
      const out = await post(`/workspaces/${ws}/exports`, { selection, formats }, { idempotencyKey: newKey() });
      setExportState({ taskId: out.task.id, url: out.download_url ?? undefined });
    });

  const proShot = board?.shots.find((s) => s.id === proShotId) ?? null;

  // a chat result's link: focus the shot card or the queue row, open the Pro drawer at the
  // image, the player for a cut, the export menu with the download
  const open = (target: OpenTarget) => {
    if (target.kind === "node") {
      location.hash = `#/p/${ws}/shot/${target.workItemId}/node/${target.id}`;
    } else if (target.kind === "export") {
      setExportOpen(true);
      setExportState({ taskId: target.id });
      get(`/workspaces/${ws}/exports/${target.id}`)
        .then((out) => setExportState({ taskId: target.id, url: out.download_url ?? undefined }))
        .catch((err) => setExportState({ taskId: target.id, error: errorText(err) }));
    } else if (target.kind === "task" && target.type === "compose") {
      setOverlay("player");
    } else {
      if (proShotId) location.hash = `#/p/${ws}`;
      setFocused({ kind: target.kind, id: target.id });
    }
  };
  useEffect(() => {
    if (!focused) return;
    const el = document.getElementById(`${focused.kind}-${focused.id}`);
    el?.scrollIntoView({ block: "center" });
    el?.focus();
  }, [focused, proShotId]);

  return (
    <div class="page project">
      <header class="topbar">
        <a href="#/" class="back">◀ {t("back")}</a>
        <h1 class="title">{board?.workspace.title ?? "…"}</h1>
        <span class="muted">{[board?.workspace.style, board?.workspace.meta?.aspect_ratio].filter(Boolean).join(" · ")}</span>
        <span class="spacer" />
        <span class={`live ${live ? "on" : "off"}`} role="status" aria-live="polite">{live ? t("live") : t("reconnecting")}</span>
        <span class="cost" aria-label={t("costSoFar")}>{t("costSoFar")}: {money(data.usage?.cost)}</span>
        <LangSwitch />
        <button class="ghost" onClick={props.onSignOut}>{t("signOut")}</button>
      </header>
      <nav class="toolbar" aria-label={t("storyboard")}>
        <button onClick={() => generate("grid")}>{t("generateGrids")}</button>
        <button onClick={() => generate("video")}>{t("makeClips")}</button>
        <button onClick={() => generate("voice")}>{t("narrate")}</button>
        <button onClick={() => compose("preview")}>{t("composePreview")}</button>
        <button onClick={() => compose("final")}>{t("composeFinal")}</button>
        <button onClick={() => setOverlay("player")}>{t("player")}</button>
        <button onClick={() => setOverlay("history")}>{t("history")}</button>
        <ExportMenu state={exportState} onExport={startExport} open={exportOpen} onToggle={setExportOpen} />
        {selected.size > 0 && <span class="muted">{selected.size} {t("selected")}</span>}
      </nav>
      {error && <p class="error" role="alert">{error}</p>}
      {notice && <p class="notice" role="status">{notice}</p>}
      <div class="workspace">
        <main class="board-col">
          {selected.size > 0 && board && (
            <BatchEdit
              ws={ws}
              shots={board.shots.filter((s) => selected.has(s.id))}
              onDone={(msg) => {
                setNotice(msg);
                schedule();
              }}
              onClear={() => setSelected(new Set())}
            />
          )}
          {board ? (
            <Board
              board={board}
              stageOf={stageOf}
              selected={selected}
              focusedId={focused?.kind === "shot" ? focused.id : null}
              onUnfocus={() => setFocused(null)}
              onToggle={(id) => {
                const next = new Set(selected);
                next.has(id) ? next.delete(id) : next.add(id);
                setSelected(next);
              }}
              onReorder={(id, to) => run(() => post(`/workspaces/${ws}/work-items/${id}/reorder`, { to }))}
            />
          ) : (
            <p class="loading" role="status">…</p>
          )}
          <Queue ws={ws} tasks={data.tasks} shots={board?.shots ?? []} config={config} onAction={run} focusedId={focused?.kind === "task" ? focused.id : null} onUnfocus={() => setFocused(null)} />
        </main>
        <Chat key={`agent-${ws}`} workspaceId={ws} mode="agent" shots={board?.shots ?? []} onChanged={schedule} onOpen={open} tick={tick} />
      </div>
      {proShot && (
        <ProDrawer
          key={proShot.id}
          workspaceId={ws}
          shot={proShot}
          stages={stageOf.get(proShot.id) ?? null}
          tick={tick}
          shots={board?.shots ?? []}
          nodeId={props.proNodeId}
          onChanged={schedule}
          onOpen={open}
          onClose={() => (location.hash = `#/p/${ws}`)}
        />
      )}
      {overlay === "player" && <Player cuts={data.stages?.cuts ?? []} onClose={() => setOverlay(null)} onCompose={compose} />}
      {overlay === "history" && <History ws={ws} usage={data.usage} tick={tick} onClose={() => setOverlay(null)} onChanged={schedule} />}
    </div>
  );
}

function StageChip({ name, stage }: { name: "grid" | "clip" | "voice"; stage: Stage | undefined }) {
  const status = stage?.status ?? "none";
  const icon = { none: "·", queued: "…", running: "●", done: "✓", failed: "✕" }[status] ?? "·";
  const title = [t(name), statusText(status), stage?.stale ? `${t("stale")}: ${stage.reason}` : "", stage?.error ? `${stage.error.code}: ${stage.error.message}` : ""]
    .filter(Boolean)
    .join(" — ");
  return (
    <li class={`stage s-${status}${stage?.stale ? " stale" : ""}`} data-stage={name} data-status={status} title={title} aria-label={title}>
      {t(name)} {icon}
      {stage?.stale ? " ⚠" : ""}
    </li>
  );
}

/** A linked-to card or queue row keeps its highlight until focus leaves it. */
function unfocusOnBlur(focused: boolean, onUnfocus: () => void) {
  return (e: FocusEvent) => {
    if (focused && !(e.currentTarget as HTMLElement).contains(e.relatedTarget as Node | null)) onUnfocus();
  };
}

function Card(props: { shot: Shot; stages: ShotStages | undefined; selected: boolean; focused: boolean; last: number; onToggle: () => void; onUnfocus: () => void; onReorder: (to: number, id?: string) => void }) {
  const { shot, stages } = props;
  const stale = stages && (stages.clip.stale || stages.voice.stale);
  const label = shotLabel(shot.idx);
  const open = () => (location.hash = `#/p/${shot.workspace_id}/shot/${shot.id}`);
  return (
    <article
      id={`shot-${shot.id}`}
      tabIndex={-1}
      class={`card${props.selected ? " picked" : ""}${stale ? " is-stale" : ""}${props.focused ? " focused" : ""}`}
      aria-label={label}
      aria-current={props.focused ? "true" : undefined}
      onBlur={unfocusOnBlur(props.focused, props.onUnfocus)}
      data-shot={shot.idx}
      draggable
      onDragStart={(e) => e.dataTransfer?.setData("text/x-dd-shot", shot.id)}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        const id = e.dataTransfer?.getData("text/x-dd-shot");
        if (id && id !== shot.id) props.onReorder(shot.idx, id);
      }}
    >
      <div class="card-head">
        <label class="pick">
          <input type="checkbox" checked={props.selected} onChange={props.onToggle} aria-label={`${t("select")} ${label}`} />
          <strong>#{shot.idx}</strong>
        </label>
        {stale && (
          <span class="stale-mark" role="img" aria-label={`${t("stale")}: ${[stages?.clip.reason, stages?.voice.reason].filter(Boolean).join("; ")}`} title={[stages?.clip.reason, stages?.voice.reason].filter(Boolean).join("; ")}>
            ⚠
          </span>
        )}
        <span class="spacer" />
        <span class="muted">{seconds(shot.duration_s)}</span>
      </div>
      <button class="thumb" onClick={open} aria-label={`${t("openPro")}: ${label}`}>
        {shot.thumbnail_url || shot.selected_url ? (
          <img src={relPath(thumb(shot.thumbnail_url, 256) ?? shot.selected_url)} alt={`${label}: ${shot.spec?.visual ?? ""}`} loading="lazy" width={256} height={144} />
        ) : (
          <span class="placeholder">{shot.spec?.visual ?? label}</span>
        )}
      </button>
      <p class="camera" title={t("camera")}>{shotCamera(shot)}</p>
      {shotTags(shot).length > 0 && (
        <p class="tags">
          {shotTags(shot).map((tag) => (
            <span class="tag">{tag}</span>
          ))}
        </p>
      )}
      <p class="narration" title={t("narration")}>{shot.spec?.narration}</p>
      <ul class="stages" aria-label={`${label} stages`}>
        <StageChip name="grid" stage={stages?.grid} />
        <StageChip name="clip" stage={stages?.clip} />
        <StageChip name="voice" stage={stages?.voice} />
      </ul>
      <div class="card-foot">
        <span class="muted" title={t("cost")}>{money(stages?.cost)}</span>
        <span class="spacer" />
        <button class="icon" disabled={shot.idx <= 1} onClick={() => props.onReorder(shot.idx - 1)} aria-label={`${t("moveEarlier")}: ${label}`}>◀</button>
        <button class="icon" disabled={shot.idx >= props.last} onClick={() => props.onReorder(shot.idx + 1)} aria-label={`${t("moveLater")}: ${label}`}>▶</button>
      </div>
    </article>
  );
}

function Board(props: { board: Storyboard; stageOf: Map<string, ShotStages>; selected: Set<string>; focusedId: string | null; onToggle: (id: string) => void; onUnfocus: () => void; onReorder: (id: string, to: number) => void }) {
  const { board } = props;
  if (board.shots.length === 0) return <p class="empty" role="status">{t("noShots")}</p>;
  const groups: { title: string; id: string | null; shots: Shot[] }[] = [];
  for (const shot of board.shots) {
    const last = groups[groups.length - 1];
    if (last && last.id === shot.scene_id) last.shots.push(shot);
    else {
      const scene = board.scenes.find((s) => s.id === shot.scene_id);
      groups.push({ id: shot.scene_id, title: scene ? `${t("scene")} ${scene.idx} — ${scene.title}` : "", shots: [shot] });
    }
  }
  const last = board.shots[board.shots.length - 1].idx;
  return (
    <section class="board" aria-label={t("storyboard")} title={t("reorderHint")}>
      {groups.map((g) => (
        <div class="scene">
          {g.title && <h2>{g.title}</h2>}
          <div class="cards">
            {g.shots.map((shot) => (
              <Card
                key={shot.id}
                shot={shot}
                stages={props.stageOf.get(shot.id)}
                selected={props.selected.has(shot.id)}
                focused={props.focusedId === shot.id}
                last={last}
                onToggle={() => props.onToggle(shot.id)}
                onUnfocus={props.onUnfocus}
                onReorder={(to, dragged) => props.onReorder(dragged ?? shot.id, to)}
              />
            ))}
          </div>
        </div>
      ))}
    </section>
  );
}

const BATCH_FIELDS = [
  ["visual", "description"],
  ["style_override", "styleModifier"],
  ["time_of_day", "timeOfDay"],
  ["weather", "weather"],
  ["lighting", "lighting"],
] as const;

/** The board's batch edit: one `shot.update` of the picked shots through the action router (the
 * same action the chat runs: a snapshot first, undoable). The versions the form started from go
 * along, so a change made elsewhere meanwhile is refused (412) and nothing is applied. */
function BatchEdit({ ws, shots, onDone, onClear }: { ws: string; shots: Shot[]; onDone: (msg: string) => void; onClear: () => void }) {
  const [fields, setFields] = useState<Record<string, string>>({});
  const [movement, setMovement] = useState("");
  const [duration, setDuration] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const base = useRef(new Map<string, string>());
  shots.forEach((s) => base.current.has(s.id) || base.current.set(s.id, s.version));
  async function apply(e: Event) {
    e.preventDefault();
    setError("");
    const patchBody: Record<string, any> = {};
    for (const [key] of BATCH_FIELDS) if (fields[key]?.trim()) patchBody[key] = fields[key].trim();
    if (movement) patchBody.camera = { movement };
    if (duration) patchBody.duration_s = Number(duration);
    if (!Object.keys(patchBody).length) return;
    const ids = shots.map((s) => s.id);
    setBusy(true);
    try {
      await post(`/workspaces/${ws}/work-items/batch`, { work_item_ids: ids, patch: patchBody, versions: Object.fromEntries(ids.map((id) => [id, base.current.get(id)])) });
      // the versions to edit from next: the shots as they are now
      const board = await get<Storyboard>(`/workspaces/${ws}/storyboard`);
      board.shots.filter((s) => ids.includes(s.id)).forEach((s) => base.current.set(s.id, s.version));
      onDone(`${t("done")}: ${shots.length} ${t("shotsLabel")}`);
    } catch (err) {
      if (err instanceof ApiError && err.code === "version_mismatch") {
        const current = ((err.details as any)?.current_versions ?? {}) as Record<string, string>;
        Object.entries(current).forEach(([id, v]) => base.current.set(id, v)); // edit from the reloaded board
        onDone(t("versionMismatch"));
      } else {
        setError(errorText(err));
        onDone("");
      }
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="batch" onSubmit={apply} aria-label={t("batchEdit")}>
      <strong>{t("batchEdit")}</strong> ({shots.map((s) => `#${s.idx}`).join(", ")})
      {BATCH_FIELDS.map(([key, label]) => (
        <label>
          {t(label)}
          <input name={key} value={fields[key] ?? ""} maxLength={key === "visual" ? 2000 : 120} onInput={(e) => setFields({ ...fields, [key]: (e.target as HTMLInputElement).value })} />
        </label>
      ))}
      <label>
        {t("camera")}
        <select value={movement} onChange={(e) => setMovement((e.target as HTMLSelectElement).value)}>
          <option value="">—</option>
          {MOVEMENTS.map((m) => (
            <option value={m}>{m}</option>
          ))}
        </select>
      </label>
      <label>
        {t("duration")}
        <input type="number" min={2} max={8} step={0.5} value={duration} onInput={(e) => setDuration((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit" disabled={busy}>{t("apply")}</button>
      <button type="button" class="ghost" onClick={onClear}>{t("clear")}</button>
      {error && <span class="error" role="alert">{error}</span>}
    </form>
  );
}

function Queue(props: { ws: string; tasks: TaskRow[]; shots: Shot[]; config: StudioConfig | null; focusedId: string | null; onUnfocus: () => void; onAction: (fn: () => Promise<unknown>) => void }) {
  const idx = new Map(props.shots.map((s) => [s.id, s.idx]));
  return (
    <section class="queue" aria-labelledby="queue-h">
      <h2 id="queue-h">{t("queue")}</h2>
      {props.tasks.length === 0 && <p class="empty">{t("noTasks")}</p>}
      <ol class="tasks">
        {props.tasks.map((task) => {
          const link = temporalLink(props.config?.temporal_ui_url, props.config?.temporal_namespace, task.workflow_id);
          const shot = task.work_item_id ? idx.get(task.work_item_id) : undefined;
          return (
            <li
              id={`task-${task.id}`}
              tabIndex={-1}
              class={`task t-${task.status}${props.focusedId === task.id ? " focused" : ""}`}
              onBlur={unfocusOnBlur(props.focusedId === task.id, props.onUnfocus)}
              data-task-type={task.type}
              data-status={task.status}
              data-task-id={task.id}
              key={task.id}
            >
              <span class="ttype">{task.type}{shot ? ` #${shot}` : ""}</span>
              <span class="tstatus">{statusText(task.status)}</span>
              {ACTIVE.has(task.status) && (
                <progress max={1} value={task.progress} aria-label={`${task.type} ${t("progress")}`} title={`${Math.round(task.progress * 100)} %`} />
              )}
              {task.error && (
                <span class="terror" role="note">
                  <code>{task.error.code}</code> {task.error.message}
                </span>
              )}
              <span class="spacer" />
              {ACTIVE.has(task.status) && (
                <button class="ghost" aria-label={`${t("cancel")} ${task.type}`} onClick={() => props.onAction(() => post(`/workspaces/${props.ws}/tasks/${task.id}/cancel`, {}, { idempotencyKey: newKey() }))}>
                  {t("cancel")}
                </button>
              )}
              {(task.status === "failed" || task.status === "canceled") && (
                <button class="ghost" aria-label={`${t("retry")} ${task.type}`} onClick={() => props.onAction(() => post(`/workspaces/${props.ws}/tasks/${task.id}/retry`, {}, { idempotencyKey: newKey() }))}>
                  {t("retry")}
                </button>
              )}
              {link && (
                <a class="temporal" href={link} target="_blank" rel="noopener" aria-label={`${t("temporal")}: ${task.workflow_id}`}>
                  {t("temporal")} ↗
                </a>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}

type ExportFormat = "media" | "otio" | "fcpxml" | "fcp7xml" | "edl" | "srt" | "vtt" | "capcut";

function ExportMenu({ state, onExport, open, onToggle }: { state: { taskId: string; url?: string; error?: string } | null; onExport: (s: "selected" | "favorites", formats?: ExportFormat[]) => void; open: boolean; onToggle: (open: boolean) => void }) {
  return (
    <details class="menu" open={open} onToggle={(e) => onToggle((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>{t("export")} ▾</summary>
      <div class="menu-body" role="menu">
        <button role="menuitem" onClick={() => onExport("selected")}>{t("exportSelected")}</button>
        <button role="menuitem" onClick={() => onExport("favorites")}>{t("exportFavorites")}</button>
        <button role="menuitem" onClick={() => onExport("selected", ["media", "fcp7xml", "fcpxml", "edl", "otio"])}>{t("exportTimeline")}</button>
        <button role="menuitem" onClick={() => onExport("selected", ["srt", "vtt"])}>{t("exportSubtitles")}</button>
        <button role="menuitem" onClick={() => onExport("selected", ["capcut"])}>{t("exportCapcut")}</button>
        {state && !state.url && !state.error && <span class="muted" role="status">{statusText("running")}…</span>}
        {state?.error && <span class="error" role="alert">{state.error}</span>}
        {state?.url && (
          <a class="button" href={relPath(state.url)} download={`export-${state.taskId.slice(0, 8)}.zip`}>
            {t("download")} (zip)
          </a>
        )}
      </div>
    </details>
  );
}

function Dialog(props: { title: string; onClose: () => void; children: any; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && props.onClose();
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);
  return (
    <div class="overlay">
      <div class={`dialog${props.wide ? " wide" : ""}`} role="dialog" aria-modal="true" aria-label={props.title} tabIndex={-1} ref={ref}>
        <header>
          <h2>{props.title}</h2>
          <span class="spacer" />
          <button class="ghost" onClick={props.onClose} aria-label={t("close")}>✕</button>
        </header>
        {props.children}
      </div>
    </div>
  );
}

function Player({ cuts, onClose, onCompose }: { cuts: Cut[]; onClose: () => void; onCompose: (m: "preview" | "final") => void }) {
  const [mode, setMode] = useState<string>(cuts.find((c) => c.mode === "final") && !cuts.find((c) => c.mode === "preview") ? "final" : "preview");
  const cut = cuts.find((c) => c.mode === mode) ?? null;
  return (
    <Dialog title={t("player")} onClose={onClose} wide>
      <div class="tabs" role="tablist">
        {(["preview", "final"] as const).map((m) => (
          <button role="tab" aria-selected={mode === m} class={mode === m ? "active" : ""} onClick={() => setMode(m)}>
            {t(m)}
          </button>
        ))}
      </div>
      {!cut && <p class="empty">{t("noCut")}</p>}
      {cut && (
        <div class="player">
          {cut.stale && (
            <div class="stale-banner" role="alert">
              <strong>⚠ {t("staleCut")}</strong>
              <ul>
                {cut.reasons.map((r) => (
                  <li>{r}</li>
                ))}
              </ul>
              <button onClick={() => onCompose(cut.mode as "preview" | "final")}>{t("recompose")}</button>
            </div>
          )}
          <video key={cut.node_id} controls preload="metadata" src={relPath(cut.content_url)} poster={relPath(cut.poster_url ? `${cut.poster_url}?size=512` : undefined)} aria-label={`${t(mode as "preview" | "final")} ${cut.node_id.slice(0, 8)}`} />
          <p class="muted">
            {seconds(cut.duration_s)} · {new Date(cut.created_at).toLocaleString()}
          </p>
          <h3>{t("madeFrom")}</h3>
          <ul class="made-from">
            {cut.shots.map((s) => (
              <li>
                #{s.idx ?? "?"} · clip {s.video_node_id.slice(0, 8)}
                {s.voice_node_id ? ` · voice ${s.voice_node_id.slice(0, 8)}` : ""}
              </li>
            ))}
          </ul>
          {cut.missing_shots.length > 0 && (
            <p class="error">
              {t("missingShots")}: {cut.missing_shots.map((m) => `#${m.idx} (${m.reason})`).join(", ")}
            </p>
          )}
        </div>
      )}
    </Dialog>
  );
}

interface Snapshot {
  id: string;
  note: string;
  created_at: string;
  created_by: string | null;
}

function History({ ws, usage, tick, onClose, onChanged }: { ws: string; usage: Usage | null; tick: number; onClose: () => void; onChanged: () => void }) {
  const [snaps, setSnaps] = useState<Snapshot[] | null>(null);
  const [diff, setDiff] = useState<{ id: string; body: any } | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    get<Snapshot[]>(`/workspaces/${ws}/snapshots`).then(setSnaps).catch((e) => setError(errorText(e)));
  }, [ws, tick]);
  return (
    <Dialog title={t("history")} onClose={onClose} wide>
      {error && <p class="error" role="alert">{error}</p>}
      <h3>{t("snapshots")}</h3>
      {snaps?.length === 0 && <p class="empty">{t("noSnapshots")}</p>}
      <ol class="snapshots">
        {snaps?.map((s) => (
          <li>
            <span>{s.note || s.id.slice(0, 8)}</span> <span class="muted">{new Date(s.created_at).toLocaleString()}</span>
            <button class="ghost" onClick={() => get(`/workspaces/${ws}/snapshots/${s.id}/diff`).then((body) => setDiff({ id: s.id, body })).catch((e) => setError(errorText(e)))}>
              {t("diff")}
            </button>
            <button
              class="ghost"
              onClick={() =>
                post(`/workspaces/${ws}/snapshots/${s.id}/rollback`)
                  .then(() => onChanged())
                  .catch((e) => setError(errorText(e)))
              }
            >
              {t("restore")}
            </button>
            {diff?.id === s.id && <DiffView body={diff.body} />}
          </li>
        ))}
      </ol>
      <h3>{t("usage")}</h3>
      <table class="usage">
        <thead>
          <tr>
            <th scope="col">type</th>
            <th scope="col">{t("tasks")}</th>
            <th scope="col">✓</th>
            <th scope="col">✕</th>
            <th scope="col">s</th>
            <th scope="col">{t("gpuTime")}</th>
            <th scope="col">{t("cost")} ({t("atRates")})</th>
            <th scope="col">{t("cost")} ({t("priced")})</th>
          </tr>
        </thead>
        <tbody>
          {usage?.by_type.map((u) => (
            <tr>
              <td>{u.type}</td>
              <td>{u.tasks}</td>
              <td>{u.succeeded}</td>
              <td>{u.failed}</td>
              <td>{u.busy_seconds.toFixed(1)}</td>
              <td>{gpuTime(u.gpu_seconds)}</td>
              <td data-rate-cost={u.rate_cost}>≈ {money(u.rate_cost)}</td>
              <td>{money(u.cost)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Dialog>
  );
}

function DiffView({ body }: { body: any }) {
  const rows: string[] = [];
  for (const item of body.changed ?? []) {
    const label = item.idx_after ? `#${item.idx_after}` : item.work_item_id.slice(0, 8);
    if (item.idx_before !== item.idx_after) rows.push(`${label}: position ${item.idx_before} → ${item.idx_after}`);
    for (const c of item.changes) rows.push(`${label}: ${c.field}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`);
  }
  for (const c of body.workspace_changes ?? []) rows.push(`project ${c.field}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`);
  (body.added ?? []).forEach((id: string) => rows.push(`+ ${id.slice(0, 8)}`));
  (body.removed ?? []).forEach((id: string) => rows.push(`− ${id.slice(0, 8)}`));
  if (!rows.length) return <p class="muted">{t("noChanges")}</p>;
  return (
    <ul class="diff">
      {rows.map((r) => (
        <li>{r}</li>
      ))}
    </ul>
  );
}
