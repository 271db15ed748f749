#!/bin/sh
# The container's entrypoint; runs as well outside a container (the tests do).
# "run" (the default): check the secret files can be read, bring the schema to head, add
# the first store under the data directory when the catalogue has none, then serve; the
# server creates the first admin on its first start (password in DATA_DIR/initial-admin-password).
# Other commands (the background worker) do not migrate: they refuse an old schema and
# are restarted until the API has migrated it.
set -eu
[ "$#" -gt 0 ] || set -- run

for var in LIBRARIAN_SERVER_DATABASE_URL_FILE LIBRARIAN_SERVER_SECRET_KEY_FILE; do
    eval "file=\${$var:-}"
    if [ -n "$file" ] && [ ! -r "$file" ]; then
        echo "librarian-entrypoint: $var=$file cannot be read by uid $(id -u):" \
            "on the host, chown $(id -u) the secret file (see the README)" >&2
        exit 1
    fi
done

if [ "$1" = run ]; then
    librarian-server migrate
    data="${LIBRARIAN_SERVER_DATA_DIR:-/data}"
    if [ -n "${LIBRARIAN_SERVER_DEFAULT_STORE_CAPACITY_BYTES:-}" ]; then
        librarian-server add-store "${LIBRARIAN_SERVER_DEFAULT_STORE_NAME:-local}" "$data/store" \
            --if-none --capacity "$LIBRARIAN_SERVER_DEFAULT_STORE_CAPACITY_BYTES"
    else
        librarian-server add-store "${LIBRARIAN_SERVER_DEFAULT_STORE_NAME:-local}" "$data/store" \
            --if-none
    fi
fi
exec librarian-server "$@"
