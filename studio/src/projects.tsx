// Projects: the caller's workspaces; create one from a story (title, shots, style, aspect); delete.
import { useEffect, useState } from "preact/hooks";
import { del, errorText, get, newKey, post } from "./api";
import type { Me } from "./app";
import { LangSwitch } from "./app";
import { t } from "./i18n";

export interface Workspace {
  id: string;
  title: string;
  style: string | null;
  meta: Record<string, any>;
  created_at: string;
  version: string;
}

const ASPECTS = ["16:9", "9:16", "1:1", "4:3"];

export function ProjectsPage({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const [items, setItems] = useState<Workspace[] | null>(null);
  const [error, setError] = useState("");
  const [formError, setFormError] = useState("");
  const [busy, setBusy] = useState(false);
  const [form, setForm] = useState({ title: "", story: "", shots: 6, style: "", aspect: "16:9" });

  const load = () => get<Workspace[]>("/workspaces").then(setItems).catch((e) => setError(errorText(e)));
  useEffect(() => void load(), []);

  async function create(e: Event) {
    e.preventDefault();
    setBusy(true);
    setFormError("");
    try {
      const out = await post<{ workspace: Workspace; storyboard_error?: { code: string; message: string } }>(
        "/workspaces",
        {
          type: "narrative_project",
          title: form.title,
          story: form.story,
          shot_count: form.shots,
          style: form.style || null,
          meta: { aspect_ratio: form.aspect },
        },
        { idempotencyKey: newKey() },
      );
      location.hash = `#/p/${out.workspace.id}`;
    } catch (err) {
      setFormError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  async function remove(ws: Workspace) {
    if (!confirm(`${t("confirmDelete")}\n${ws.title}`)) return;
    try {
      await del(`/workspaces/${ws.id}`);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  }

  const set = (k: keyof typeof form) => (e: Event) => {
    const v = (e.target as HTMLInputElement).value;
    setForm({ ...form, [k]: k === "shots" ? Number(v) : v });
  };

  return (
    <div class="page projects">
      <header class="topbar">
        <h1>{t("app")}</h1>
        <span class="spacer" />
        <span class="who">{me.user_id}</span>
        <LangSwitch />
        <button class="ghost" onClick={onSignOut}>{t("signOut")}</button>
      </header>
      <main>
        <section aria-labelledby="new-project">
          <h2 id="new-project">{t("newProject")}</h2>
          <form class="new-project" onSubmit={create}>
            <label>
              {t("title")}
              <input name="title" required maxLength={200} value={form.title} onInput={set("title")} />
            </label>
            <label class="wide">
              {t("story")}
              <textarea name="story" required maxLength={4000} rows={3} value={form.story} onInput={set("story")} />
            </label>
            <label>
              {t("shotCount")}
              <input name="shots" type="number" min={3} max={60} value={form.shots} onInput={set("shots")} />
            </label>
            <label>
              {t("style")}
              <input name="style" maxLength={200} value={form.style} onInput={set("style")} placeholder="ink-wash" />
            </label>
            <label>
              {t("aspect")}
              <select name="aspect" value={form.aspect} onChange={set("aspect")}>
                {ASPECTS.map((a) => (
                  <option value={a}>{a}</option>
                ))}
              </select>
            </label>
            <button type="submit" disabled={busy}>{busy ? t("creating") : t("create")}</button>
            {formError && <p class="error wide" role="alert">{formError}</p>}
          </form>
        </section>
        <section aria-labelledby="list-projects">
          <h2 id="list-projects">{t("projects")}</h2>
          {error && <p class="error" role="alert">{error}</p>}
          {items && items.length === 0 && <p class="empty">{t("noProjects")}</p>}
          <ul class="project-list">
            {items?.map((ws) => (
              <li key={ws.id}>
                <a href={`#/p/${ws.id}`} class="project-link">
                  <strong>{ws.title}</strong>
                  <span class="muted">
                    {[ws.style, ws.meta?.aspect_ratio, new Date(ws.created_at).toLocaleString()].filter(Boolean).join(" · ")}
                  </span>
                </a>
                <button class="ghost danger" aria-label={`${t("del")} ${ws.title}`} onClick={() => remove(ws)}>
                  {t("del")}
                </button>
              </li>
            ))}
          </ul>
        </section>
      </main>
    </div>
  );
}
