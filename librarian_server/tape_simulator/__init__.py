"""A stand-in for a ScoutAM tape system, run as its own process for tests and demos.

It speaks the part of the ScoutAM REST API that ``ScoutClient`` uses, keeps the disk cache
in one directory (``--root``) and "tape" in another (``--tape``), stages files with a
configurable delay, bandwidth and loss, and announces each staged file on NATS JetStream
as a ``StageEvent``. ``python -m librarian_server.tape_simulator --help`` lists the options.
"""
