"""Replication: peers, send planning and claims, sending and receiving clones, check-ins,
hypervisors (reconcile), and what operators see of transfers."""
