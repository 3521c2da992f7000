"""The commands by which results leave a machine and are judged: ``submit``, ``check``,
``keygen`` and ``leaderboard`` (their parsers and handlers; ``aiperf.cli`` runs them)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from aiperf.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    UsageError,
    UserError,
    printable,
)


def add_submission_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``submit``, ``check``, ``keygen`` and ``leaderboard`` to the CLI's subcommands."""
    submit = commands.add_parser("submit", help="pack a run into a bundle (and upload it)")
    submit.add_argument("run_dir", type=Path)
    submit.add_argument("--out", type=Path, help="bundle path (.tar.gz; needed without --to)")
    submit.add_argument("--to", help="upload to this leaderboard (e.g. http://127.0.0.1:8000)")
    submit.add_argument("--token-file", type=Path, help="with --to: your API token's file")
    submit.add_argument("--system-file", type=Path, help="YAML/JSON system description fields")
    submit.add_argument("--submitter", help="who submits (overrides the system file)")
    submit.add_argument("--system-name", help="the machine's name on the leaderboard")
    submit.add_argument("--key", type=Path, help="sign the bundle with this private key")
    submit.set_defaults(handler=_cmd_submit)
    check = commands.add_parser("check", help="verify a bundle: PASS or each failure")
    check.add_argument("bundle", type=Path)
    check.add_argument("--public-key", type=Path, help="require a signature by this key")
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check.set_defaults(handler=_cmd_check)
    keygen = commands.add_parser("keygen", help="make an Ed25519 key pair to sign bundles")
    keygen.add_argument("key", type=Path, help="private key file (the public key: KEY.pub)")
    keygen.set_defaults(handler=_cmd_keygen)
    _add_leaderboard_commands(commands)


def _add_leaderboard_commands(commands: argparse._SubParsersAction) -> None:
    board = commands.add_parser("leaderboard", help="run a leaderboard server (extra: leaderboard)")
    actions = board.add_subparsers(dest="leaderboard_command", required=True)
    serve = actions.add_parser("serve", help="serve the leaderboard's pages and API")
    serve.add_argument("--db", default="sqlite:///leaderboard/leaderboard.db", help="database URL")
    serve.add_argument("--store", type=Path, default=Path("leaderboard"), help="bundle folder")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_cmd_leaderboard_serve)
    add = actions.add_parser("add-submitter", help="register a submitter; prints its API token")
    add.add_argument("name")
    add.add_argument("--public-key", type=Path, required=True, help="their key.pub")
    add.add_argument("--organiser", action="store_true", help="may hide results")
    add.add_argument("--db", default="sqlite:///leaderboard/leaderboard.db", help="database URL")
    add.set_defaults(handler=_cmd_leaderboard_add)


def _cmd_submit(args: argparse.Namespace) -> int:
    from aiperf.submit import make_bundle, read_system_file, system_from_run

    overrides = read_system_file(args.system_file) if args.system_file else {}
    overrides |= {"submitter": args.submitter} if args.submitter else {}
    overrides |= {"system_name": args.system_name} if args.system_name else {}
    if args.to and not (args.token_file and args.key):
        raise UsageError("--to needs --token-file and --key (the leaderboard takes signed bundles)")
    if not args.to and not args.out:
        raise UsageError("--out is needed (or --to, to upload)")
    system = system_from_run(args.run_dir, overrides)
    with tempfile.TemporaryDirectory(prefix="aiperf-submit-") as tmp:
        out = args.out or Path(tmp) / "bundle.tar.gz"
        bundle = make_bundle(args.run_dir, out, system, args.key)
        print(f"bundle: {bundle}" + (" (signed)" if args.key else ""))
        if args.to:
            from aiperf.submit.upload import upload

            reply = upload(bundle, args.to, args.token_file)
            print(f"submitted: {reply['status']} — {args.to.rstrip('/')}{reply['url']}")
    return EXIT_OK


def _cmd_leaderboard_serve(args: argparse.Namespace) -> int:
    from aiperf.leaderboard.serve import serve

    serve(args.db, args.store, args.host, args.port)
    return EXIT_OK


def _cmd_leaderboard_add(args: argparse.Namespace) -> int:
    from aiperf.leaderboard.submitters import add_submitter

    token = add_submitter(args.db, args.name, args.public_key, args.organiser)
    print(f"submitter {args.name} registered; API token (shown once, keep it secret):\n{token}")
    return EXIT_OK


def _cmd_keygen(args: argparse.Namespace) -> int:
    from aiperf.submit.signing import generate_key_pair

    public = args.key.with_name(args.key.name + ".pub")
    fingerprint = generate_key_pair(args.key, public)
    print(f"private key: {args.key} (keep it secret)\npublic key: {public}\n{fingerprint}")
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    """PASS (with its division and verification) or every FAIL; an unexpected exception is one
    ERROR line and exit 3, so a leaderboard never mistakes a crash for a verdict."""
    from aiperf.submit import check_bundle

    try:
        result = check_bundle(args.bundle, args.public_key)
    except (UserError, OSError, RecursionError):
        raise  # input or a file the system refused: one line and exit 2, as everywhere
    except Exception as err:  # a bug, or input nobody foresaw: never a verdict
        print(printable(f"ERROR {type(err).__name__}: {err}"[:500]))
        return EXIT_INTERNAL
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        for line in check_lines(args.bundle, result):
            print(printable(line))
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED


def check_lines(bundle: Path, result: Any) -> list[str]:
    """``aiperf check``'s report: every FAIL, or PASS with the division and verification, then
    a line per reason the run is open or unverified."""
    if not result.ok:
        return [f"FAIL {failure}" for failure in result.failures]
    summary = result.rescored
    verified = "verified" if not result.unverified else "UNVERIFIED"
    signed = f"signed by {result.signer}" if result.signer else "unsigned"
    rules = f"{summary.spec_name} rules v{summary.rules_version}"
    lines = [f"PASS {bundle}: {summary.division} division, {rules}, {verified}, {signed}"]
    lines += [f"OPEN {note}" for note in summary.division_notes]
    return lines + [f"UNVERIFIED {reason}" for reason in result.unverified]
