"""Secrets Machinery makes for itself: made once, then the same for every process."""

import mongomock

from machinery.store.secrets import SharedSecrets


def test_a_secret_is_made_once_and_shared():
    server = mongomock.MongoClient()
    first = SharedSecrets(server.db.secrets).get("console-sessions")
    again = SharedSecrets(server.db.secrets).get("console-sessions")
    assert first == again and len(first) == 64
    assert SharedSecrets(server.db.secrets).get("other") != first
