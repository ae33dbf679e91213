"""``Idempotency-Key`` on writes: a request's key read into the claim its write records its answer under
(``idempotency.claims``). The records, and the rules a retry meets, are ``db.idempotency``'s."""
