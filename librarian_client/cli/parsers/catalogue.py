"""The parser of ``librarian ls``, ``search``, ``info``, ``verify``, ``damage``, ``repair``
and ``stores``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples, parse_size, parse_time, positive_int
from librarian_client.cli.parsers import Command


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    ls = sub.add_parser(
        "ls",
        parents=[common],
        help="list one level of names, like a directory",
        description="List the files and directories directly under PREFIX (names "
        "relative to it; directories end with '/'). A PREFIX naming a file shows that "
        "file. Prints nothing but a line on stderr, and exits 0, when nothing is there.",
        epilog=examples(
            "librarian ls                    # the top level",
            "librarian ls obs/2024-06-01/    # one night's directory",
            "librarian ls -l obs/            # with size, time and checksum",
            "librarian ls -R obs/ --json     # every file below obs/, exact values",
        ),
    )
    ls.add_argument(
        "prefix",
        metavar="PREFIX",
        nargs="?",
        default="",
        help="a directory (with or without the trailing '/') or a file name",
    )
    ls.add_argument(
        "-R", "--recursive", action="store_true", help="every file below PREFIX, at any depth"
    )
    ls.add_argument(
        "-l", "--long", action="store_true", help="size, creation time and short checksum"
    )
    ls.set_defaults(func=Command("catalogue", "cmd_ls"))

    search = sub.add_parser(
        "search",
        parents=[common],
        help="find files by name glob, prefix, time, size or uploader",
        description="Print the files matching every filter given, in name order, with "
        "full names. Glob: '*' matches any characters including '/', '?' one character. "
        "Sizes take units (10MiB, 2GB); times are ISO 8601 (UTC unless a zone is given). "
        "When nothing matches, a line on stderr says so and the exit status is 0.",
        epilog=examples(
            "librarian search --name 'obs/*.g3' --min-size 1GiB",
            "librarian search --prefix obs/2024-06- --created-after 2024-06-01T12:00",
            "librarian search --uploader pipeline --limit 10 --json",
        ),
    )
    search.add_argument("--name", metavar="GLOB", help="name glob, e.g. 'obs/*/D_*.g3'")
    search.add_argument("--prefix", metavar="P", help="names starting with P, e.g. obs/")
    search.add_argument(
        "--created-after", metavar="TIME", type=parse_time, help="e.g. 2024-06-01 or ...T12:00Z"
    )
    search.add_argument(
        "--created-before", metavar="TIME", type=parse_time, help="created before TIME"
    )
    search.add_argument(
        "--min-size", metavar="SIZE", type=parse_size, help="at least SIZE, e.g. 10MiB"
    )
    search.add_argument("--max-size", metavar="SIZE", type=parse_size, help="at most SIZE")
    search.add_argument("--uploader", metavar="USER", help="uploaded by USER")
    search.add_argument("--limit", metavar="N", type=positive_int, help="stop after N files")
    search.add_argument("-l", "--long", action="store_true", help="show checksums too")
    search.set_defaults(func=Command("catalogue", "cmd_search"))

    info = sub.add_parser(
        "info",
        parents=[common],
        help="show one file and its copies",
        description="Size, checksum, uploader and every copy: on this site's stores and "
        "at other sites.",
        epilog=examples("librarian info obs/2024-06-01/obs.g3", "librarian info NAME --json"),
    )
    info.add_argument("name", metavar="NAME", help="the file's full name")
    info.set_defaults(func=Command("catalogue", "cmd_info"))

    verify = sub.add_parser(
        "verify",
        parents=[common],
        help="re-hash this site's copies of files now (admin)",
        description="Read every copy of the named files (or of every file under a prefix) "
        "on this site's stores, compare each with the catalogue checksum, record the "
        "result on the copy and print it. A copy found missing, of the wrong size or "
        "corrupt is no longer served or sent. Exits 1 when any copy is not ok.",
        epilog=examples(
            "librarian verify obs/2024-06-01/obs.g3",
            "librarian verify --prefix obs/2024-06-01/ --json",
        ),
    )
    verify.add_argument("names", metavar="NAME", nargs="*", help="files to verify")
    verify.add_argument("--prefix", metavar="P", help="verify every file whose name starts with P")
    verify.add_argument(
        "--page-size", metavar="N", type=positive_int, default=20, help="files per request"
    )
    verify.set_defaults(func=Command("integrity", "cmd_verify"))

    damage = sub.add_parser(
        "damage",
        parents=[common],
        help="what audits found wrong with copies and stores (admin)",
        description="Damage records in the order found: copies found missing, of the wrong "
        "size, corrupt or unreadable, and dark files (bytes on a store that no catalogue "
        "row names), with how each ended (repaired, and from where; lost; registered, "
        "quarantined or deleted by an operator).",
        epilog=examples(
            "librarian damage --active          # what is still wrong",
            "librarian damage --state lost --json",
        ),
    )
    damage.add_argument(
        "--state",
        choices=("open", "lost", "repaired", "registered", "quarantined", "deleted", "gone"),
        help="only records in this state",
    )
    damage.add_argument("--active", action="store_true", help="only open and lost records")
    damage.add_argument("--store", metavar="S", help="only damage on store S")
    damage.add_argument(
        "--kind",
        choices=("missing", "wrong_size", "corrupt", "unreadable", "dark"),
        help="only findings of this kind",
    )
    damage.add_argument("--limit", metavar="N", type=positive_int, help="at most N records")
    damage.set_defaults(func=Command("integrity", "cmd_damage"))

    repair = sub.add_parser(
        "repair",
        parents=[common],
        help="repair one damaged copy now (admin)",
        description="Replace the damaged copy of damage record ID from a good copy on "
        "another store of this site, or from a peer that proves its copy first; the "
        "bad bytes are kept aside until the new copy is verified. Exits 1 unless the "
        "record ends repaired (or gone).",
        epilog=examples("librarian repair 42", "librarian repair 42 --json"),
    )
    repair.add_argument("id", metavar="ID", type=positive_int, help="a damage record's id")
    repair.set_defaults(func=Command("integrity", "cmd_repair"))

    stores = sub.add_parser(
        "stores",
        parents=[common],
        help="list the site's stores",
        description="Each store's kind, state, space used and free, and root (admin).",
        epilog=examples("librarian stores", "librarian stores --json"),
    )
    stores.set_defaults(func=Command("catalogue", "cmd_stores"))
