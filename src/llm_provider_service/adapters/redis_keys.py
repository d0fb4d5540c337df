"""Every Redis key name the service uses, derived from one namespace; no other module spells a key.

Job queue layout (namespace `llmq` by default; the `{...}` hash tag keeps every key in one Redis Cluster slot,
which the queue's Lua scripts need):

    {llmq}:ready     ZSET  job_id -> (10 - priority) * 1e13 + sequence   (lowest score is claimed first)
    {llmq}:delayed   ZSET  job_id -> due time, epoch seconds
    {llmq}:leased    ZSET  job_id -> lease deadline, epoch seconds
    {llmq}:priority  HASH  job_id -> priority, for every job held in any state (HLEN = total depth)
    {llmq}:token     HASH  job_id -> current lease token, for leased jobs only
    {llmq}:sequence  STRING counter giving FIFO order within a priority
    {llmq}:wakeup    LIST  short-lived wakeup marks for claimers blocked in BLPOP

Rate budgets (`redis_budget.py`; same hash tag, so one script can touch a bucket, a wait record and the index):

    {llmq}:budget:<provider/model>   HASH    per dimension `<dim>:level`, `<dim>:ts`, `<dim>:learned`,
                                             `configured:<dim>`; `paused_until`, `overflow_at`
    {llmq}:budget-wait:<job_id>      STRING  budget wait (seconds) a deferred job has accumulated; expires in a day
    {llmq}:budgets                   SET     every budget key with a known limit (for operators)
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_QUEUE_NAMESPACE = "llmq"


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The job queue's keys; `ordered` is the KEYS array every queue script receives, in this order."""

    ready: str
    delayed: str
    leased: str
    priority: str
    token: str
    sequence: str
    wakeup: str

    @classmethod
    def for_namespace(cls, namespace: str = DEFAULT_QUEUE_NAMESPACE) -> QueueKeys:
        if not namespace or any(char in namespace for char in "{}"):
            raise ValueError("queue namespace must be non-empty and free of braces")
        tag = "{" + namespace + "}"
        return cls(
            ready=f"{tag}:ready",
            delayed=f"{tag}:delayed",
            leased=f"{tag}:leased",
            priority=f"{tag}:priority",
            token=f"{tag}:token",
            sequence=f"{tag}:sequence",
            wakeup=f"{tag}:wakeup",
        )

    @property
    def ordered(self) -> tuple[str, str, str, str, str, str, str]:
        return (self.ready, self.delayed, self.leased, self.priority, self.token, self.sequence, self.wakeup)


@dataclass(frozen=True, slots=True)
class BudgetKeys:
    """The rate budgets' keys."""

    prefix: str

    @classmethod
    def for_namespace(cls, namespace: str = DEFAULT_QUEUE_NAMESPACE) -> BudgetKeys:
        if not namespace or any(char in namespace for char in "{}"):
            raise ValueError("budget namespace must be non-empty and free of braces")
        return cls("{" + namespace + "}")

    def bucket(self, key: str) -> str:
        return f"{self.prefix}:budget:{key}"

    def wait(self, job_id: str) -> str:
        return f"{self.prefix}:budget-wait:{job_id}"

    @property
    def index(self) -> str:
        return f"{self.prefix}:budgets"
