"""The versioned blackboard: typed findings on an append-only, hash-chained log per board."""

from slateboard.blackboard.board import DEFAULT_URL, Blackboard, Board
from slateboard.blackboard.entries import Entry, Head
from slateboard.blackboard.feed import FeedItem
from slateboard.blackboard.kinds import registry, upcaster
from slateboard.blackboard.records import Citation, Finding, Record
from slateboard.blackboard.stores.base import Store
from slateboard.blackboard.stores.memory import MemoryStore
from slateboard.blackboard.view import BoardView, IndexInfo

__all__ = (
    "Blackboard",
    "Board",
    "BoardView",
    "Citation",
    "DEFAULT_URL",
    "Entry",
    "FeedItem",
    "Finding",
    "Head",
    "IndexInfo",
    "MemoryStore",
    "Record",
    "Store",
    "registry",
    "upcaster",
)
