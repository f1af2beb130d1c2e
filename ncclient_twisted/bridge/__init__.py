"""The bridge between the session threads and the reactor thread.

Reply routing to Deferreds (:mod:`.listener`), the ordered hand-off of replies and
notifications to the reactor (:mod:`.handoff`), request deadlines (:mod:`.deadlines`),
requests built on the session thread (:mod:`.jobs`), the per-reactor runtime with its
thread pool (:mod:`.runtime`), deferred wake-ups (:mod:`.wakeups`) and the gate the
session threads share (:mod:`.gate`).
"""
