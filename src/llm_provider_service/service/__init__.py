"""Use cases: submit, get, cancel and wait for jobs; process one job; reconcile; relay the outbox."""
