"""A bad setting stops Machinery under gunicorn at once, saying what is wrong, with no traceback."""

import os
import subprocess

from processes import BIN, ROOT, free_port

from machinery.config import EXIT_BAD_SETTINGS


def test_gunicorn_stops_on_a_bad_setting_and_says_which():
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MACHINERY_", "MONGO_"))},
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        # One worker: when several fail to boot at once, gunicorn itself raises while halting.
        "WEB_CONCURRENCY": "1",
        "MONGO_URI": "mongodb://127.0.0.1:1",  # never reached: the settings stop it first
        "MACHINERY_READ_TIMEOUT": "30s",
        "MACHINERY_PAGE_SIZE": "0",
    }
    done = subprocess.run(
        [str(BIN / "gunicorn"), "machinery:create_app()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == EXIT_BAD_SETTINGS, output
    assert "MACHINERY_READ_TIMEOUT='30s': expected a number of seconds greater than 0" in output
    assert "MACHINERY_PAGE_SIZE='0': expected a whole number from 1 to 100" in output
    assert "Traceback" not in output
