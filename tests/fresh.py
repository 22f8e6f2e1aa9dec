"""Checks that need a fresh interpreter (what a command imports), run together in one.

A test module registers its checks with ``conftest.fresh_check`` at collection; the session fixture
``fresh`` runs them all in one subprocess: this script, with the checks as JSON on stdin. Each check
runs in a fork of an interpreter that has imported only modules the check allows: the first stage
imports the CLI, the next torch, the last torch._dynamo, and a check runs at the last stage that
preloads none of its forbidden modules (verified before it runs). A module the check's code imports,
directly or lazily, is thus in ``sys.modules`` afterwards exactly as in a fresh interpreter, and the
checks share the imports instead of paying for them each.

A check is Python code run with ``folder`` (an empty folder of its own) in its namespace; its result is
``{"imported": [its forbidden modules found in sys.modules]}``, with ``"value"`` added where the code
set ``value`` (anything JSON holds), or ``{"error": the traceback's last lines}``.
"""

import importlib
import json
import os
import sys
import traceback
from pathlib import Path

STAGES = (("typer.testing", "incprof.cli.app"), ("torch",), ("torch._dynamo",))


def stage_of(forbid: list[str]) -> int:
    """The last stage that has preloaded nothing the check forbids (a module, or one inside it)."""
    for index, preload in enumerate(STAGES):
        if any(name == f or name.startswith(f + ".") for name in preload for f in forbid):
            return max(index - 1, 0)
    return len(STAGES) - 1


def _run(code: str, forbid: list[str], folder: str) -> dict:
    """Run one check here and say what it imported (or how it failed)."""
    preloaded = sorted(name for name in forbid if name in sys.modules)
    if preloaded:
        return {"error": f"cannot tell: {preloaded} were imported before the check ran"}
    namespace = {"folder": folder, "__name__": "__fresh__"}
    try:
        exec(compile(code, "<check>", "exec"), namespace)
    except BaseException:  # a failed assert or anything else: the test shows it
        return {"error": "".join(traceback.format_exc().splitlines(True)[-12:])}
    result = {"imported": sorted(name for name in forbid if name in sys.modules)}
    if "value" in namespace:
        result["value"] = namespace["value"]
    return result


def run_forked(code: str, forbid: list[str], folder: str) -> dict:
    """Run ``code`` in a fork of this interpreter; its result comes back through a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, report, and leave without running the parent's cleanup
        try:
            os.close(read)
            with os.fdopen(write, "w") as out:
                json.dump(_run(code, forbid, folder), out)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        text = answer.read()
    _, status = os.waitpid(pid, 0)
    if not text:
        return {"error": f"the check's process ended with code {os.waitstatus_to_exitcode(status)}"}
    return json.loads(text)


def main() -> None:
    """Read {"checks": {name: {"code", "forbid"}}, "folder": a base folder} from stdin; write
    {name: result} to results.json in that folder."""
    sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, as `python -c` there
    request = json.load(sys.stdin)
    checks, base = request["checks"], Path(request["folder"])
    results = {}
    for index, preload in enumerate(STAGES):
        for name in preload:
            importlib.import_module(name)
        for number, (name, check) in enumerate(sorted(checks.items())):
            if stage_of(check["forbid"]) == index:
                folder = base / f"check-{number}"
                folder.mkdir()
                results[name] = run_forked(check["code"], check["forbid"], str(folder))
    (base / "results.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main()
