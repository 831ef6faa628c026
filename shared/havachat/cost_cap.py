"""A run's cost cap (`HAVACHAT_MAX_RUN_COST_USD`, `havachat run --max-cost`; 0 or unset = no cap).

Plan refuses a run whose estimate is over the cap (`CostCapExceeded`). While the run goes on, each
batch's actual cost is added to the run's spend (one atomic counter shared by the parallel batches),
and a batch that starts once the spend has reached the cap makes no call (`CostCapReached`): the run
ends PARTIAL and a resume with a higher cap finishes it. A batch already running when the cap is
reached finishes, so the spend can end above the cap by up to the cost of the batches in flight.
"""

from __future__ import annotations

from havachat.errors import HavachatError
from havachat.ledger import BATCH_PRICE_FACTOR
from havachat.models import OFFLINE_MODEL, RunPlan
from havachat.planning import batched_cost

RAISE_THE_CAP = "HAVACHAT_MAX_RUN_COST_USD, --max-cost, or max_cost_usd in the resume input"


class CostCapExceeded(HavachatError):
    """Plan: the run's estimated cost is over its cap; no batch runs (resume it with a higher cap)."""


class CostCapReached(HavachatError):
    """GenerateBatch: the run's spend had reached its cap, so this batch made no call (resume with a higher cap)."""


def estimated_cost_usd(plan: RunPlan, *, batch: bool = False) -> float:
    """The plan's estimated cost at list prices with prompt caching on (what `havachat plan` shows); offline: 0.

    `batch` (the Message Batches API): half the list price without prompt caching, which the API
    applies only on a best-effort basis there, so the estimate does not count on it.
    """
    if plan.model == OFFLINE_MODEL:
        return 0.0
    cost = batched_cost(plan)
    return cost.cost_usd * BATCH_PRICE_FACTOR if batch else cost.cost_usd_cached


def refusal(estimate_usd: float, cap_usd: float | None, batches: int) -> CostCapExceeded | None:
    """The error refusing a run whose estimate is over its cap, or None (no cap, or within it)."""
    if not cap_usd or estimate_usd <= cap_usd:
        return None
    return CostCapExceeded(
        f"the run's estimated cost of ${estimate_usd:.2f} ({batches} batches, list prices) is over its cost cap "
        f"of ${cap_usd:.2f}: nothing was generated; raise the cap ({RAISE_THE_CAP}) and resume"
    )


def check_spend(spent_usd: float, cap_usd: float) -> None:
    """Raises `CostCapReached` when the run's spend has reached its cap."""
    if spent_usd >= cap_usd:
        raise CostCapReached(
            f"the run's cost cap of ${cap_usd:.2f} was reached (${spent_usd:.4f} spent): this batch made no call; "
            f"resume the run with a higher cap ({RAISE_THE_CAP})"
        )
