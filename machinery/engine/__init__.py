"""The engine: runs an event's steps against the services, with no knowledge of Flask or MongoDB."""
