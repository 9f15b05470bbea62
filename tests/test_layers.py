"""A worker and the command line run without the web stack."""

import subprocess
import sys

WEB_STACK = ("flask", "flask_smorest", "werkzeug", "webargs", "marshmallow")


def test_a_worker_and_the_cli_import_no_web_stack():
    probe = (
        "import sys, machinery.cli, machinery.worker, machinery.runtime\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {WEB_STACK!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
