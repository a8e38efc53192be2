import { t } from "./i18n";
import type { Shot } from "./types";

export function shotCamera(shot: Shot): string {
  const c = shot.spec?.camera ?? {};
  return [c.size, c.angle, c.movement].filter(Boolean).map((s: string) => s.replace(/_/g, " ")).join(", ");
}

export function shotTags(shot: Shot): string[] {
  const s = shot.spec ?? {};
  return ["time_of_day", "lighting", "mood", "weather"].map((k) => s[k]).filter((v) => typeof v === "string" && v);
}

export function money(v: number | null | undefined): string {
  if (v == null) return "—";
  if (v === 0) return "$0";
  return `$${v.toFixed(v < 0.01 ? 4 : v < 1 ? 3 : 2)}`;
}

export function gpuTime(s: number | null | undefined): string {
  if (s == null) return "—";
  if (s < 60) return `${Math.round(s * 10) / 10} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function seconds(v: number | null | undefined): string {
  return v == null ? "—" : `${v.toFixed(1)} s`;
}

export function temporalLink(base: string | undefined, ns: string | undefined, workflowId: string | null): string | null {
  if (!base || !workflowId) return null;
  return `${base.replace(/\/$/, "")}/namespaces/${encodeURIComponent(ns ?? "default")}/workflows/${encodeURIComponent(workflowId)}`;
}

export function thumb(url: string | null | undefined, size: 256 | 512 = 256): string | undefined {
  if (!url) return undefined;
  return url.includes("/thumbnail") ? `${url}${url.includes("?") ? "&" : "?"}size=${size}` : url;
}

export function shotLabel(idx: number): string {
  return `${t("shot")} ${idx}`;
}

export function relPath(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url, location.href);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}
