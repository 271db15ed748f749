"""Cold (tape) stores: staging jobs, readiness from events or polls, pins, callbacks."""
