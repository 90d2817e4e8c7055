"""Asynchronous tasks (video and Suno now; images and Midjourney next) on one engine: write before you call,
leases instead of a master, exactly-once money, results kept.  See docs/tasks.md.

``TaskEngine`` (create, get, list, cancel), ``TaskPoller`` (every replica runs one: polls, copies results
into the result store, a ``storage.blobs.BlobStore``, settles, reconciles), ``TaskRecord`` (a task as the
engine hands it out).
Client webhooks: ``outbox.py`` (an event per state change, in its transaction), ``webhook_body.py`` (its
body in the creating dialect's shape) and ``webhooks.py`` (``WebhookSender``: every replica delivers them,
signed per key).
"""

from omnirouter.tasks.engine import TaskEngine, VendorFor, external_id, registry_vendor
from omnirouter.tasks.poller import TaskPoller
from omnirouter.tasks.records import Schedule, StoredOutput, TaskRecord, TaskSummary

__all__ = [
    "Schedule",
    "StoredOutput",
    "TaskEngine",
    "TaskPoller",
    "TaskRecord",
    "TaskSummary",
    "VendorFor",
    "external_id",
    "registry_vendor",
]
