"""Background work: an outbox written in the request's transaction, RQ workers, the schedule."""
