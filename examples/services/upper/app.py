"""The upper example service: answers the message in capital letters."""

import sys
from pathlib import Path

# Run as a script or by gunicorn from this folder, the shared module sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from example_service import create_service, serve


def to_upper(message: str) -> dict:
    """Capitalise the message."""
    return {"message": message.upper()}


app = create_service(
    name="upper",
    description="Converts the message to upper case.",
    transform=to_upper,
    inputs=[{"name": "message", "type": "string", "description": "The text to convert"}],
    outputs=[{"name": "message", "type": "string", "description": "The text in upper case"}],
)

if __name__ == "__main__":
    serve(app, default_port=5001)
