"""The reverse example service: answers the message read backwards."""

import sys
from pathlib import Path

# Run as a script or by gunicorn from this folder, the shared module sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from example_service import create_service, serve


def reverse(message: str) -> dict:
    """Reverse the message, character by character."""
    return {"message": message[::-1]}


app = create_service(
    name="reverse",
    description="Reverses the message, character by character.",
    transform=reverse,
    inputs=[{"name": "message", "type": "string", "description": "The text to reverse"}],
    outputs=[{"name": "message", "type": "string", "description": "The text read backwards"}],
)

if __name__ == "__main__":
    serve(app, default_port=5002)
