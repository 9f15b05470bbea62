"""The space-counter example service: answers how many spaces the message holds."""

import sys
from pathlib import Path

# Run as a script or by gunicorn from this folder, the shared module sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from example_service import create_service, serve


def count_spaces(message: str) -> dict:
    """Count the space characters in the message."""
    return {"space_count": message.count(" ")}


app = create_service(
    name="space-counter",
    description="Counts the space characters in the message.",
    transform=count_spaces,
    inputs=[{"name": "message", "type": "string", "description": "The text whose spaces to count"}],
    outputs=[
        {"name": "space_count", "type": "int", "description": "The number of space characters"}
    ],
)

if __name__ == "__main__":
    serve(app, default_port=5003)
