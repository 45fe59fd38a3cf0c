"""`codekiln serve-reward`: the sandboxed verifiers as an HTTP reward server (OpenRLHF's remote reward model shape)."""

from __future__ import annotations

import argparse

HELP = ("Serve the tasks' verifiers as a reward over HTTP (POST /get_reward, GET /health), in the request/response "
        "shape of OpenRLHF's remote reward model.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", required=True, metavar="TASKS",
                        help="The tasks whose answers are rewarded: a built-in suite (NAME or NAME:SPLIT) or a task "
                             "file; each request names an answer's task by its task_id in `labels`.")
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1; 0.0.0.0 for "
                                                            "trainers on other machines).")
    parser.add_argument("--port", type=int, default=5000, help="Port (default 5000; 0 picks a free one).")
    parser.add_argument("--workers", type=int, default=2, help="Sandbox workers checking a request's answers in "
                                                               "parallel (default 2).")
    parser.add_argument("--timeout-s", type=float, default=10.0,
                        help="Each program's wall-clock limit in seconds (default 10); a hanging program earns 0.")
    parser.add_argument("--max-concurrent", type=int, default=4,
                        help="Requests checked at once; more wait for a slot (default 4).")
    parser.add_argument("--request-timeout-s", type=float, default=300.0,
                        help="Longest a request may take before it is answered 504 (default 300).")
    parser.add_argument("--partial-credit", action="store_true",
                        help="Failing python answers earn the share of their test calls that passed (off by default: "
                             "it invites reward hacking).")
    parser.add_argument("--config", default=None, metavar="YAML",
                        help="A run config whose verify section (limits, html scorer, judge) the verifiers use.")


def main(args: argparse.Namespace) -> int:
    from codekiln.config import VerifyConfig, command_defaults, load_config
    from codekiln.errors import UserError
    from codekiln.rewards.function import reward_function
    from codekiln.rewards.server import serve

    for name in ("workers", "max_concurrent"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("timeout_s", "request_timeout_s"):
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be above 0")
    verify = load_config(args.config).verify if args.config else command_defaults(VerifyConfig)
    reward = reward_function(args.tasks, partial_credit=args.partial_credit, workers=args.workers,
                             timeout_s=args.timeout_s, verify=verify)

    def ready(server) -> None:  # noqa: ANN001 - a RewardServer
        host, port = server.server_address[:2]
        print(f"codekiln serve-reward: {len(reward.tasks)} tasks; POST http://{host}:{port}/get_reward, "
              f"GET http://{host}:{port}/health", flush=True)

    serve(reward, args.host, args.port, args.max_concurrent, args.request_timeout_s, ready=ready)
    return 0
