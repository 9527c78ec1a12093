"""The idempotency ledger and target locks, kept by each store beside the entry log: the contract every backend keeps.

The ledger holds one row per idempotency key: a hash of the proposal's parameters (the same key with other
parameters is refused), a status, the fencing token of the lock it was claimed under, and the sink's receipt.
A key is marked "pending" just before a sink is called and settled just after, so a crash in between leaves
a "pending" row that the next attempt treats as in doubt instead of applying again. A sink inside the store's
own database applies and settles in one transaction: exactly once.

Every status change is a compare-and-set (`transition`): two workers can never both move a key from
"failed" back to "pending", so they can never both call the sink for it.

Target locks are leases with fencing tokens: two boards cannot commit to one record at once, and a holder that
died loses the lock when its lease runs out, to a successor whose token is higher.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from slateboard.blackboard.stores.tables import Apply, TableRow
from slateboard.errors import CommitError

__all__ = (
    "Apply",
    "Ledger",
    "LedgerRow",
    "LedgerStatus",
    "TargetLocked",
    "ROW_COLUMNS",
    "check_columns",
    "check_params",
    "lock_is_free",
)

LedgerStatus = Literal["pending", "applied", "failed", "dead", "in_doubt", "compensated"]


@dataclass(frozen=True)
class LedgerRow:
    """The ledger's record of one idempotency key. `receipt` is the sink's answer as JSON text."""

    key: str
    params_hash: str
    board: str
    target: str
    status: LedgerStatus
    attempts: int = 0
    receipt: str = "null"
    error: str = ""
    fence: int = 0


ROW_COLUMNS = "key, params_hash, board, target, status, attempts, receipt, error, fence"
COLUMN_NAMES = frozenset(ROW_COLUMNS.split(", "))


class Ledger(Protocol):
    """What the commit layer needs from a store. `wait` has the same meaning as for `Store` operations."""

    def get(self, key: str, *, wait: bool) -> LedgerRow | None: ...

    def claim(self, row: LedgerRow, *, wait: bool) -> tuple[LedgerRow, bool]: ...

    def transition(
        self, key: str, expect: Collection[str], changes: dict[str, Any], *, wait: bool
    ) -> LedgerRow | None: ...

    def apply_atomically(self, row: LedgerRow, apply: Apply, *, holder: str = "", wait: bool) -> tuple[LedgerRow, bool]:
        """Claim `row`, run `apply` with the store's `TableTransaction`, and settle it "applied" with the receipt
        `apply` returns, in one transaction; (the existing row, False) when the key is known."""
        ...

    def rows(self, status: LedgerStatus | None, *, wait: bool) -> list[LedgerRow]: ...

    def table_rows(self, table: str, *, wait: bool) -> dict[str, TableRow]:
        """Every row of a sink's table (see `tables`), by target in sorted order; empty if never written."""
        ...

    def acquire(self, target: str, holder: str, lease: float, steal: str, *, wait: bool) -> tuple[int, str]: ...

    def release(self, target: str, token: int, *, wait: bool) -> None: ...


class TargetLocked(Exception):
    """Raised by `apply_atomically` when another live holder has the target's lock; nothing was written."""

    def __init__(self, target: str, holder: str) -> None:
        super().__init__(f"target {target!r} is locked by {holder}")
        self.target = target
        self.holder = holder


def check_params(existing: LedgerRow, row: LedgerRow) -> None:
    """The same key must always name the same change."""
    if existing.params_hash != row.params_hash:
        raise CommitError(
            f"idempotency key {row.key!r} was first used for other parameters (on board {existing.board!r}, "
            f"target {existing.target!r}); a key must always name the same change"
        )


def check_columns(changes: dict[str, Any]) -> None:
    """Every store refuses the same way a change to a column the ledger does not have."""
    unknown = set(changes) - COLUMN_NAMES
    if unknown:
        raise CommitError(f"ledger has no column(s) {', '.join(sorted(unknown))}")


def lock_is_free(holder: str, steal: str, current: tuple[str, int, float] | None, now: float) -> bool:
    """Free for `holder` when unheld, its own, expired, or held by `steal` (a holder known to be dead)."""
    return current is None or current[0] in (holder, steal) or current[2] <= now
