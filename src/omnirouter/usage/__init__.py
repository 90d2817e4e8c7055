"""Usage: records built on the request path, journaled, written in batches off it."""

from omnirouter.usage.journal import UsageJournal, journal_dir
from omnirouter.usage.query import recent_usage
from omnirouter.usage.record import UsageRecord, usage_columns
from omnirouter.usage.recorder import UsageRecorder
from omnirouter.usage.recovery import UNSETTLED_AFTER_RESTART, recover_reservations
from omnirouter.usage.replay import replay_journals

DEAD_LETTER_FILE = "dead-letters.jsonl"
"""Where, in the journal folder, dead letters go when the database will not take them either."""

__all__ = [
    "DEAD_LETTER_FILE",
    "UNSETTLED_AFTER_RESTART",
    "UsageJournal",
    "UsageRecord",
    "UsageRecorder",
    "journal_dir",
    "recent_usage",
    "recover_reservations",
    "replay_journals",
    "usage_columns",
]
