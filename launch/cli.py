"""`directordeck` — the one console script.

Rule: every failure prints one line (`error: <code>: <problem> — fix: <fix>`) and exits non-zero
(an unexpected one too: `unexpected_error`, the traceback only with DIRECTORDECK_TRACEBACK=1);
arguments that are not valid UTF-8 are refused first (`argument_not_utf8`); nothing started by a
failed command is left running.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from infra.errors import StackError
from infra.settings import get_settings

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _cmd_up(args: argparse.Namespace) -> int:
    from launch.run import run_up

    return run_up(get_settings())


def _cmd_migrate(args: argparse.Namespace) -> int:
    from migrations.apply import current, downgrade, upgrade

    settings = get_settings()
    url = settings.database_url
    if args.downgrade:
        fn, rev = downgrade, args.downgrade
    else:
        fn, rev = upgrade, args.revision
    if url:
        fn(url, rev)
        print(f"database at revision {current(url)}")
        return 0
    from infra.postgres import EmbeddedPostgres
    from infra.stack import check_data_dir, check_port_free, read_running_stack

    running = read_running_stack(settings)
    if running is not None:
        fn(running.database_url, rev)
        print(f"database at revision {current(running.database_url)}")
        return 0
    check_data_dir(settings.data_path)
    check_port_free(settings.pg_port, "embedded PostgreSQL", "DIRECTORDECK_PG_PORT")
    pg = EmbeddedPostgres(settings.pg_data_path, settings.pg_port)
    pg.start()
    try:
        fn(pg.url(), rev)
        print(f"database at revision {current(pg.url())}")
    finally:
        pg.stop()
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from launch.doctor import run_doctor

    return run_doctor(get_settings())


def _cmd_worker(args: argparse.Namespace) -> int:
    from launch.run import run_worker

    return run_worker(get_settings(), args.pool, device=args.device)


def _cmd_demo(args: argparse.Namespace) -> int:
    from launch.demo import run_demo

    return run_demo(get_settings(), args.story, shots=args.shots, as_json=args.json)


def _cmd_plan(args: argparse.Namespace) -> int:
    from agent.dry_run import run_plan

    return run_plan(
        args.sentence, Path(args.context) if args.context else None, args.json, planner=args.planner
    )


def _cmd_eval(args: argparse.Namespace) -> int:
    from agent.eval import run_eval_cli

    return run_eval_cli(
        Path(args.file),
        contexts_path=Path(args.contexts) if args.contexts else None,
        planner=args.planner,
        as_json=args.json,
        failures=args.failures,
    )


def _cmd_token(args: argparse.Namespace) -> int:
    from api.auth import mint_dev_token

    settings = get_settings()
    if not settings.effective_jwt_secret:
        print("error: no JWT secret to sign with — fix: set DIRECTORDECK_JWT_SECRET", file=sys.stderr)
        return 2
    if not args.user.strip():
        print(
            "error: token_user_empty: --user is empty — fix: pass a user name, e.g. --user alice",
            file=sys.stderr,
        )
        return 2
    if args.ttl <= 0:
        print(
            "error: token_ttl_invalid: --ttl must be positive — fix: pass seconds, e.g. --ttl 3600",
            file=sys.stderr,
        )
        return 2
    print(mint_dev_token(args.user, args.role, args.ttl, settings=settings))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from launch.bench import run_bench

    return run_bench(quick=args.quick, json_path=Path(args.json) if args.json else None, only=args.only)


def _cmd_schema(args: argparse.Namespace) -> int:
    from agent.dry_run import print_action_schema

    return print_action_schema()


def _cmd_ui(args: argparse.Namespace) -> int:
    from infra.search_attributes import ui_url
    from infra.stack import read_running_stack

    settings = get_settings()
    running = read_running_stack(settings) if not settings.temporal_ui_base_url else None
    base = (running.temporal_ui_url if running else None) or settings.temporal_ui_url
    print(
        ui_url(
            base,
            settings.temporal_namespace,
            args.workspace,
            "ExecutionStatus = 'Failed'" if args.failed else None,
        )
    )
    return 0


def _cmd_search_attributes(args: argparse.Namespace) -> int:
    import asyncio

    from infra.search_attributes import create_commands, ensure_registered
    from infra.stack import read_running_stack
    from infra.temporal_client import connect

    settings = get_settings()
    if args.print:
        print("\n".join(create_commands(settings.temporal_namespace, settings.temporal_address)))
        return 0
    running = read_running_stack(settings) if not settings.temporal_address else None

    async def register() -> list[str]:
        client = await connect(settings, running.temporal_address if running else None)
        return await ensure_registered(client, settings.temporal_namespace)

    added = asyncio.run(register())
    print(f"registered {', '.join(added)}" if added else "every search attribute is registered already")
    return 0


def _cmd_capcut_relink(args: argparse.Namespace) -> int:
    from activities.timeline import relink_capcut_draft

    draft = Path(args.draft)
    if not (draft / "draft_content.json").is_file():
        print(
            f"error: {draft} is not a draft folder — fix: name the folder holding draft_content.json",
            file=sys.stderr,
        )
        return 2
    print(f"relinked {relink_capcut_draft(draft)} media paths in {draft.resolve()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="directordeck", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("up", help="start the embedded stack (PostgreSQL, Temporal, workers, API)").set_defaults(
        fn=_cmd_up
    )

    migrate = sub.add_parser("migrate", help="apply ledger migrations to the configured database")
    migrate.add_argument("--revision", default="head")
    migrate.add_argument("--downgrade", metavar="REVISION", help="downgrade instead (e.g. base)")
    migrate.set_defaults(fn=_cmd_migrate)

    sub.add_parser("doctor", help="check each component and say what is missing").set_defaults(fn=_cmd_doctor)

    worker = sub.add_parser("worker", help="run one worker pool")
    worker.add_argument("--pool", required=True, choices=["cpu", "gpu-image", "gpu-video", "tts"])
    worker.add_argument("--device", default=None, help="pin a GPU, e.g. cuda:0")
    worker.set_defaults(fn=_cmd_worker)

    demo = sub.add_parser("demo", help="story → storyboard → grids → clips → voice → composed MP4")
    demo.add_argument("story")
    demo.add_argument("--shots", type=int, default=6)
    demo.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    demo.set_defaults(fn=_cmd_demo)

    plan = sub.add_parser("plan", help="dry run: print the Action DSL the agent would execute")
    plan.add_argument("sentence")
    plan.add_argument("--context", help="JSON file describing the workspace")
    plan.add_argument("--json", action="store_true")
    plan.add_argument(
        "--planner",
        choices=["offline", "gemini", "auto"],
        default="offline",
        help="offline grammar, Gemini (needs GOOGLE_API_KEY), or offline first and Gemini when unsure",
    )
    plan.set_defaults(fn=_cmd_plan)

    ev = sub.add_parser("eval", help="score a planner on a labelled sentence set (JSONL)")
    ev.add_argument("what", choices=["planner"])
    ev.add_argument("file", help="JSONL set: sentence, lang, context, expect, tags")
    ev.add_argument("--contexts", help="named context fixtures (default: contexts.json next to FILE)")
    ev.add_argument("--planner", choices=["offline", "gemini", "auto"], default="offline")
    ev.add_argument("--json", action="store_true", help="print the figures and every case as JSON")
    ev.add_argument("--failures", action="store_true", help="also list the cases not planned correctly")
    ev.set_defaults(fn=_cmd_eval)

    token = sub.add_parser("token", help="mint a bearer token for the API (dev secret unless configured)")
    token.add_argument("--user", required=True)
    token.add_argument("--role", choices=["user", "admin"], default="user")
    token.add_argument("--ttl", type=int, default=7 * 24 * 3600, help="seconds the token stays valid")
    token.set_defaults(fn=_cmd_token)

    bench = sub.add_parser("bench", help="run the benchmarks (tests/bench) and print the figures")
    bench.add_argument("--quick", action="store_true", help="small sizes, rough figures, a fast check")
    bench.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    bench.add_argument(
        "--only", metavar="GROUP", help="compose, api, chat or pipeline (else a pytest -k expression)"
    )
    bench.set_defaults(fn=_cmd_bench)

    ui = sub.add_parser("ui", help="print the Temporal UI link listing one workspace's workflows")
    ui.add_argument("--workspace", required=True, metavar="ID")
    ui.add_argument("--failed", action="store_true", help="only the failed ones")
    ui.set_defaults(fn=_cmd_ui)

    attrs = sub.add_parser(
        "search-attributes", help="register the Temporal search attributes on the configured cluster"
    )
    attrs.add_argument(
        "--print",
        action="store_true",
        help="print the `temporal operator` commands instead (Temporal Cloud: tcld)",
    )
    attrs.set_defaults(fn=_cmd_search_attributes)

    relink = sub.add_parser(
        "capcut-relink", help="point an exported CapCut/Jianying draft at its media where it now sits"
    )
    relink.add_argument(
        "draft", help="the draft folder (capcut/<title>/ of an export, copied into the drafts dir)"
    )
    relink.set_defaults(fn=_cmd_capcut_relink)

    schema = sub.add_parser("schema", help="print JSON Schemas")
    schema.add_argument("which", choices=["actions"])
    schema.set_defaults(fn=_cmd_schema)
    return parser


def _not_utf8(argv: list[str]) -> int | None:
    """Index of the first argument that is not valid UTF-8 (Python keeps such bytes as surrogates)."""
    for i, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return i
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    bad = _not_utf8(argv)
    if bad is not None:
        what = (
            "the story"
            if argv[:1] == ["demo"] and bad > 0 and not argv[bad].startswith("-")
            else "an argument"
        )
        print(
            f"error: argument_not_utf8: {what} (argument {bad + 1}) is not valid UTF-8 text"
            " — fix: pass UTF-8 text (e.g. convert the file with iconv -t UTF-8)",
            file=sys.stderr,
        )
        return 2
    args = build_parser().parse_args(argv)
    try:
        from infra.logging import configure_logging
        from infra.telemetry import setup_tracing

        settings = get_settings()
        setup_tracing(settings, args.command)
        if args.command in ("up", "worker"):  # services: JSON lines with ids; commands stay quiet
            configure_logging(settings)
        return int(args.fn(args))
    except StackError as exc:
        print(exc.one_line(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`directordeck schema actions | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except Exception as exc:  # one line, never a traceback (DIRECTORDECK_TRACEBACK=1 shows it)
        if os.environ.get("DIRECTORDECK_TRACEBACK"):
            raise
        code = getattr(exc, "code", None)
        code = code if isinstance(code, str) and code else "unexpected_error"
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        print(
            f"error: {code}: {type(exc).__name__}: {message}"
            " — fix: see the log; DIRECTORDECK_TRACEBACK=1 prints the traceback",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
