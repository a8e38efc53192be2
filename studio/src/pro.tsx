// Pro mode for one shot: tracks as tabs, the current track's grids (newest first, cells numbered
// as the chat numbers them), iterate / branch / reference / commit / favorite on a cell (each the
// same API action the chat makes), the cell's lineage, and the chat scoped to the shot.
import { useEffect, useRef, useState } from "preact/hooks";
import { errorText, get, newKey, post } from "./api";
import { Chat } from "./chat";
import { t } from "./i18n";
import type { NodeRow, OpenTarget, Shot, ShotStages, Track } from "./types";
import { relPath, shotLabel, thumb } from "./util";

interface Grid {
  group: NodeRow;
  cells: NodeRow[];
}

export function ProDrawer(props: { workspaceId: string; shot: Shot; stages: ShotStages | null; shots: Shot[]; nodeId: string | null; tick: number; onChanged: () => void; onOpen: (target: OpenTarget) => void; onClose: () => void }) {
  const { workspaceId: ws, shot } = props;
  const [tracks, setTracks] = useState<Track[]>([]);
  const [trackId, setTrackId] = useState<string | null>(null);
  const [grids, setGrids] = useState<Grid[]>([]);
  const [cell, setCell] = useState<NodeRow | null>(null);
  const [lineage, setLineage] = useState<NodeRow[]>([]);
  const [favorites, setFavorites] = useState<Set<string>>(new Set());
  const [refs, setRefs] = useState<NodeRow[]>([]);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const base = `/workspaces/${ws}`;

  useEffect(() => {
    ref.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && props.onClose();
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => {
    if (!props.nodeId) return;
    // a link to one image (a chat result): its track, with that cell in focus
    get<NodeRow>(`${base}/nodes/${props.nodeId}`)
      .then((node) => {
        if (node.track_id) setTrackId(node.track_id);
        if (node.type === "image") setCell(node);
      })
      .catch((e) => setError(errorText(e)));
  }, [props.nodeId]);

  useEffect(() => {
    get<Track[]>(`${base}/work-items/${shot.id}/tracks`)
      .then((list) => {
        setTracks(list);
        setTrackId((cur) => (cur && list.some((x) => x.id === cur) ? cur : (list.find((x) => x.is_main) ?? list[0])?.id ?? null));
      })
      .catch((e) => setError(errorText(e)));
    get<any[]>(`${base}/favorites?work_item_id=${shot.id}`)
      .then((list) => setFavorites(new Set(list.map((f) => f.node_id).filter(Boolean))))
      .catch(() => undefined);
  }, [ws, shot.id, props.tick]);

  useEffect(() => {
    if (!trackId) {
      setGrids([]);
      return;
    }
    get<NodeRow[]>(`${base}/work-items/${shot.id}/nodes?track_id=${trackId}`)
      .then((nodes) => {
        const groups = nodes.filter((n) => n.type === "grid_group").reverse();
        setGrids(
          groups.map((g) => ({
            group: g,
            cells: nodes.filter((n) => n.parent_id === g.id && n.type === "image").sort((a, b) => (a.cell ?? 0) - (b.cell ?? 0)),
          })),
        );
      })
      .catch((e) => setError(errorText(e)));
  }, [trackId, props.tick, shot.id]);

  useEffect(() => {
    if (!cell) return setLineage([]);
    get<{ depth: number; node: NodeRow }[]>(`${base}/nodes/${cell.id}/lineage?limit=20`)
      .then((rows) => setLineage(rows.map((r) => r.node)))
      .catch(() => setLineage([]));
  }, [cell?.id]);

  const track = tracks.find((x) => x.id === trackId) ?? null;
  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError("");
    try {
      await fn();
      props.onChanged();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const grid = (size: 4 | 9, extra: Record<string, unknown> = {}) =>
    act(() =>
      post(
        `${base}/generate/grid`,
        { shots: [shot.idx], size, track: track?.name, work_item_id: shot.id, refs: refs.map((r) => ({ node: r.id })), ...extra },
        { idempotencyKey: newKey() },
      ),
    );
  const label = shotLabel(shot.idx);

  return (
    <div class="drawer" role="dialog" aria-modal="true" aria-label={`Pro — ${label}`} tabIndex={-1} ref={ref}>
      <header>
        <h2>
          Pro — {label}
        </h2>
        <span class="muted">{shot.spec?.visual}</span>
        <span class="spacer" />
        <button class="ghost" onClick={props.onClose} aria-label={t("close")}>✕</button>
      </header>
      <div class="tabs" role="tablist" aria-label={t("tracks")}>
        {tracks.map((tr) => (
          <button role="tab" aria-selected={tr.id === trackId} class={tr.id === trackId ? "active" : ""} onClick={() => setTrackId(tr.id)}>
            {t("track")} {tr.name}
            {tr.is_main ? " ★" : ""}
          </button>
        ))}
      </div>
      <div class="row">
        <button onClick={() => grid(4)} disabled={busy}>{t("newGrid")}</button>
        <button onClick={() => grid(9)} disabled={busy}>{t("newGrid9")}</button>
        {refs.length > 0 && (
          <span class="refs">
            {t("references")}:{" "}
            {refs.map((r) => (
              <button class="chip" onClick={() => setRefs(refs.filter((x) => x.id !== r.id))} aria-label={`${t("clear")} ${t("reference")} #${r.cell}`}>
                #{r.cell} ✕
              </button>
            ))}
          </span>
        )}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="pro-body">
        <section class="grids" aria-label={t("cells")}>
          {grids.length === 0 && <p class="empty">{t("noGrids")}</p>}
          {grids.map((g, gi) => (
            <div class="grid-group">
              <h3 class="muted">
                {t("grid")} {grids.length - gi} · {new Date(g.group.created_at).toLocaleTimeString()}
              </h3>
              <div class={`cells n${g.cells.length}`}>
                {g.cells.map((c) => {
                  const isSel = shot.selected_node_id === c.id;
                  return (
                    <button
                      class={`cell${cell?.id === c.id ? " focus" : ""}${isSel ? " chosen" : ""}`}
                      aria-pressed={cell?.id === c.id}
                      aria-label={`${t("cells")} #${c.cell}${isSel ? ` (${t("selected")})` : ""}${favorites.has(c.id) ? ` ★` : ""}`}
                      onClick={() => setCell(c)}
                      data-cell={c.cell}
                    >
                      {c.asset && <img src={relPath(thumb(c.asset.thumbnail_url, 256) ?? c.asset.content_url)} alt="" loading="lazy" />}
                      <span class="num">#{c.cell}</span>
                      {isSel && <span class="badge">✓</span>}
                      {favorites.has(c.id) && <span class="fav">★</span>}
                    </button>
                  );
                })}
              </div>
            </div>
          ))}
        </section>
        {cell && (
          <section class="cell-panel" aria-label={`${t("cells")} #${cell.cell}`}>
            <h3>#{cell.cell}</h3>
            <div class="col">
              <button onClick={() => grid(4, { from_node: cell.id })} disabled={busy}>{t("iterate")}</button>
              <button onClick={() => act(() => post(`${base}/work-items/${shot.id}/tracks`, { from_node_id: cell.id }))} disabled={busy}>
                {t("branch")}
              </button>
              <button onClick={() => setRefs(refs.some((r) => r.id === cell.id) ? refs : [...refs, cell])}>{t("reference")}</button>
              <button onClick={() => act(() => post(`${base}/nodes/${cell.id}/commit`))} disabled={busy || shot.selected_node_id === cell.id}>
                {t("commit")}
              </button>
              <button onClick={() => act(() => post(`${base}/nodes/${cell.id}/favorite`, { tags: [] }))} disabled={busy || favorites.has(cell.id)}>
                {favorites.has(cell.id) ? `★ ${t("favorited")}` : `☆ ${t("favorite")}`}
              </button>
            </div>
            <h4>{t("lineage")}</h4>
            <ol class="lineage">
              {lineage.map((n) => (
                <li>
                  {n.asset && <img src={relPath(thumb(n.asset.thumbnail_url, 256) ?? n.asset.content_url)} alt="" width={48} height={27} />}
                  <span>
                    {n.type}
                    {n.cell ? ` #${n.cell}` : ""} · {n.id.slice(0, 8)}
                  </span>
                </li>
              ))}
              {lineage.length === 0 && <li class="muted">—</li>}
            </ol>
          </section>
        )}
      </div>
      {(track || tracks.length === 0) && (
        <Chat
          key={`pro-${shot.id}-${track?.id ?? "none"}`}
          workspaceId={ws}
          mode="pro"
          workItemId={shot.id}
          trackId={track?.id}
          shots={props.shots}
          onChanged={props.onChanged}
          onOpen={props.onOpen}
          tick={props.tick}
          title={t("proChat")}
        />
      )}
    </div>
  );
}
