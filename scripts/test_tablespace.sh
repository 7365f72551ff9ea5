#!/usr/bin/env bash
# Prints the name of a tablespace in memory for the test databases on the PostgreSQL server
# at $1 (a URL without a database), making it first if need be; prints nothing when that
# cannot be done here (the server is not on this machine, or we may not give its files to
# the postgres user), and the tests then use the default tablespace.
#
# Why: every PostgreSQL test copies a migrated template into a database of its own and drops
# it afterwards, about 400 files each time. On ext4, finding inodes among that many recently
# deleted ones (ext4's find_inode_bit/recently_deleted) was 29% of the machine's CPU samples
# during `make test-ci`; in /dev/shm creating and dropping a test database takes half as long.
set -euo pipefail

server=${1:?usage: test_tablespace.sh postgres://user@host:port}
name=kabinet_test
dir=/dev/shm/kabinet-test-tablespace
psql_admin() { psql "$server/postgres" -XAtq -v ON_ERROR_STOP=1 "$@"; }

[[ -d /dev/shm ]] || exit 0
[[ $(id -u) -eq 0 ]] || exit 0
id postgres >/dev/null 2>&1 || exit 0
# The server must be this machine's: its data directory is here and the postgres user's.
data_dir=$(psql_admin -c 'SHOW data_directory' 2>/dev/null) || exit 0
[[ -n $data_dir && -d $data_dir && $(stat -c %U "$data_dir") == postgres ]] || exit 0

location=$(psql_admin -c "SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = '$name'")
if [[ -n $location && ! -d $location ]]; then
    # /dev/shm was emptied (a reboot): what the catalogue still lists there is gone, so are
    # the databases in it, which were only tests' leftovers.
    for db in $(psql_admin -c "SELECT datname FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE t.spcname = '$name'"); do
        psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    psql_admin -c "DROP TABLESPACE IF EXISTS $name" >/dev/null
    location=""
fi
if [[ -z $location ]]; then
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    chmod 700 "$dir"
    psql_admin -c "CREATE TABLESPACE $name LOCATION '$dir'" >/dev/null
fi
echo "$name"
