#!/bin/sh
# Bring the schema to head, then hand over to librarian-server (run by default).
set -e
librarian-server migrate
exec librarian-server "$@"
