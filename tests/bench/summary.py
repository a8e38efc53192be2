"""The bench's headline figures: one flat `summary` object with a fixed set of keys.

Rule: exactly `SUMMARY_KEYS`, every value a number, or None when its group did not run (or could
not: no wrk, no MoviePy environment). Each key names the figure and its unit; ratios are
"ours ÷ reference" as the README's performance table states them.
"""

from __future__ import annotations

from typing import Any

SUMMARY_KEYS = (
    "compose_floor_ratio_preview",
    "compose_floor_ratio_final",
    "compose_vs_moviepy_preview",
    "compose_vs_moviepy_final",
    "recompose_unchanged_s",
    "recompose_one_changed_x_realtime",
    "api_health_vs_bare_ratio",
    "api_storyboard_vs_bare_ratio",
    "api_storyboard_p99_ms",
    "chat_first_event_p50_ms_1_client",
    "chat_first_event_p99_ms_50_clients",
    "chat_plan_p99_ms_50_clients",
    "pipeline_overhead_share_12_shots",
)


def _get(figures: dict[str, Any], *path: str) -> Any:
    node: Any = figures
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, int | float) else None


def summary(figures: dict[str, Any]) -> dict[str, float | None]:
    """The headline figures out of the bench's detailed figures."""
    c = ("compose_bench", "modes")
    sequential = None
    for run in (figures.get("pipeline") or {}).get("runs", []):
        if run.get("shot_concurrency") == 1:
            sequential = round(run["overhead_pct"] / 100, 4)
    out: dict[str, float | None] = {
        "compose_floor_ratio_preview": _get(figures, *c, "preview", "floor_ratio"),
        "compose_floor_ratio_final": _get(figures, *c, "final", "floor_ratio"),
        "compose_vs_moviepy_preview": _get(figures, *c, "preview", "ours_vs_moviepy"),
        "compose_vs_moviepy_final": _get(figures, *c, "final", "ours_vs_moviepy"),
        # re-compose while editing is a preview: the studio's loop
        "recompose_unchanged_s": _get(figures, *c, "preview", "recompose_unchanged_s"),
        "recompose_one_changed_x_realtime": _get(figures, *c, "preview", "recompose_one_changed_x_realtime"),
        "api_health_vs_bare_ratio": _get(figures, "api_wrk", "health_vs_bare"),
        "api_storyboard_vs_bare_ratio": _get(figures, "api_wrk", "storyboard_vs_bare"),
        "api_storyboard_p99_ms": _get(figures, "api_wrk", "storyboard", "p99_ms"),
        "chat_first_event_p50_ms_1_client": _get(figures, "chat", "one_client", "first_event", "p50_ms"),
        "chat_first_event_p99_ms_50_clients": _get(figures, "chat", "many_clients", "first_event", "p99_ms"),
        "chat_plan_p99_ms_50_clients": _get(figures, "chat", "many_clients", "plan", "p99_ms"),
        "pipeline_overhead_share_12_shots": sequential,
    }
    assert tuple(out) == SUMMARY_KEYS
    return out


def format_summary(values: dict[str, float | None]) -> str:
    width = max(len(k) for k in values)
    lines = ["summary (directordeck bench --json: `summary`)"]
    lines += [f"  {k.ljust(width)}  {'-' if v is None else v}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
