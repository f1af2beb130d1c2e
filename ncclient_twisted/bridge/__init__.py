"""The bridge between the sessions and the reactor thread (both transports).

Reply routing to Deferreds (:mod:`.listener`), the hand-off of replies and notifications
to the reactor, in wire order (:mod:`.handoff`: from a session thread, or at once for a
session on the reactor), request deadlines (:mod:`.deadlines`), requests built by the
session (:mod:`.jobs`), the per-reactor runtime with its thread pool and the bound on
connects in progress (:mod:`.runtime`, :mod:`.slots`), the session hooks' implementations
(:mod:`.runtime_hooks`), deferred wake-ups of session threads (:mod:`.wakeups`) and the
gate the session threads share (:mod:`.gate`).
"""
