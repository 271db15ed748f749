#!/bin/sh
# The API container brings the schema to head, then hands over to librarian-server
# ("run" by default). Other commands (the background worker) do not migrate: they refuse
# to start on an old schema and are restarted until the API has migrated it.
set -e
if [ "${1:-run}" = run ]; then
    librarian-server migrate
fi
exec librarian-server "$@"
