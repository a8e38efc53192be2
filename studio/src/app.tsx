// The shell: who is signed in (asked of the server, never assumed), the hash route, the language.
import { useEffect, useState } from "preact/hooks";
import { ApiError, csrfToken, del, errorText, get, onUnauthorized, post } from "./api";
import { setLang, t, useLang } from "./i18n";
import { ProjectPage } from "./project";
import { ProjectsPage } from "./projects";

export interface Me {
  user_id: string;
  role: string;
}

export interface StudioConfig {
  env: string;
  dev_sign_in: boolean;
  temporal_ui_url: string;
  temporal_namespace: string;
}

function useRoute(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash.replace(/^#/, "") || "/";
}

export function LangSwitch() {
  const lang = useLang();
  return (
    <label class="lang">
      <span class="sr-only">{t("language")}</span>
      <select aria-label={t("language")} value={lang} onChange={(e) => setLang((e.target as HTMLSelectElement).value as "en" | "zh")}>
        <option value="en">English</option>
        <option value="zh">中文</option>
      </select>
    </label>
  );
}

function SignIn({ config, expired, onSignedIn }: { config: StudioConfig | null; expired: boolean; onSignedIn: (me: Me) => void }) {
  const [user, setUser] = useState(new URLSearchParams(location.search).get("user") ?? "");
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function run(fn: () => Promise<Me>) {
    setBusy(true);
    setError("");
    try {
      onSignedIn(await fn());
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="signin">
      <h1>{t("signInTitle")}</h1>
      {expired && <p class="notice" role="status">{t("sessionExpired")}</p>}
      {config?.dev_sign_in && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            run(() => post<Me>("/auth/dev-session", { user }));
          }}
        >
          <label>
            {t("devUser")}
            <input name="user" value={user} required maxLength={64} autoComplete="username" onInput={(e) => setUser((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" disabled={busy}>{t("devSignIn")}</button>
        </form>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          run(async () => {
            const res = await fetch("/auth/session", { method: "POST", headers: { Authorization: `Bearer ${token.trim()}` }, credentials: "same-origin" });
            if (!res.ok) {
              const body = await res.json().catch(() => ({}));
              throw new ApiError(res.status, body.code ?? "unauthorized", body.message ?? res.statusText);
            }
            return (await res.json()) as Me;
          });
        }}
      >
        <label>
          {t("token")}
          <textarea name="token" rows={3} value={token} onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)} />
        </label>
        <p class="hint">{t("tokenHint")}</p>
        <button type="submit" disabled={busy || !token.trim()}>{t("tokenSignIn")}</button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      <LangSwitch />
    </main>
  );
}

export function App() {
  useLang();
  const route = useRoute();
  const [me, setMe] = useState<Me | null>(null);
  const [checked, setChecked] = useState(false);
  const [expired, setExpired] = useState(false);
  const [config, setConfig] = useState<StudioConfig | null>(null);

  useEffect(() => {
    get<StudioConfig>("/studio/config").then(setConfig).catch(() => setConfig(null));
    // no session cookie → no request that would only answer 401
    if (!csrfToken()) {
      setChecked(true);
      return;
    }
    get<Me>("/me")
      .then(setMe)
      .catch(() => setMe(null))
      .finally(() => setChecked(true));
  }, []);

  useEffect(
    () =>
      onUnauthorized((code) => {
        setExpired(code === "token_expired");
        setMe(null);
      }),
    [],
  );

  if (!checked) return <p class="loading" role="status">…</p>;
  if (!me) return <SignIn config={config} expired={expired} onSignedIn={(m) => { setExpired(false); setMe(m); }} />;

  const signOut = async () => {
    await del("/auth/session").catch(() => undefined);
    setMe(null);
  };
  const match = route.match(/^\/p\/([0-9a-f-]{36})(?:\/shot\/([0-9a-f-]{36})(?:\/node\/([0-9a-f-]{36}))?)?/);
  return match ? (
    <ProjectPage key={match[1]} workspaceId={match[1]} proShotId={match[2] ?? null} proNodeId={match[3] ?? null} me={me} config={config} onSignOut={signOut} />
  ) : (
    <ProjectsPage me={me} onSignOut={signOut} />
  );
}
