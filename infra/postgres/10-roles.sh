#!/bin/sh
# The database's roles, as infra/local makes them (run once by the postgres image, on the first
# start of an empty data volume, from /docker-entrypoint-initdb.d):
# - iiz_owner: owns the database iiz; migrations connect as it and own every schema and table;
# - iiz: the services' role; may connect, nothing else until `migrate` grants it its privileges
#   (on the audit log only SELECT and INSERT, the head only through the chain's function).
# Each has its own generated password (the pg-secrets service of docker-compose.yml writes
# credentials/postgres/<role>.password; the postgres service hands them to this script in
# IIZ_PG_OWNER_PASSWORD and IIZ_PG_SERVICE_PASSWORD): the services' role never knows the owner's.
#
# A data volume made before the separate passwords: set them from the files once, as root in the
# running container (the statements go to psql on stdin, never on a command line):
#   docker compose -f infra/docker-compose.yml exec -T -u 0 postgres sh /docker-entrypoint-initdb.d/10-roles.sh passwords
set -eu
S=/secrets/credentials/postgres
owner_pw="${IIZ_PG_OWNER_PASSWORD:-$(cat "$S/iiz_owner.password")}"
service_pw="${IIZ_PG_SERVICE_PASSWORD:-$(cat "$S/iiz.password")}"
[ -n "$owner_pw" ] && [ -n "$service_pw" ] || { echo "10-roles.sh: no role passwords" >&2; exit 1; }
[ "$owner_pw" != "$service_pw" ] || { echo "10-roles.sh: the two roles need different passwords" >&2; exit 1; }
quote() { printf '%s' "$1" | sed "s/'/''/g"; }
owner_sql="$(quote "$owner_pw")"
service_sql="$(quote "$service_pw")"
if [ "${1:-}" = passwords ]; then
  su postgres -s /bin/sh -c 'psql -X -q -v ON_ERROR_STOP=1 --username postgres --dbname postgres' <<SQL
SET password_encryption = 'scram-sha-256';
ALTER ROLE iiz_owner LOGIN PASSWORD '$owner_sql';
ALTER ROLE iiz LOGIN PASSWORD '$service_sql';
SQL
  exit 0
fi
psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
SET password_encryption = 'scram-sha-256';
CREATE ROLE iiz_owner LOGIN PASSWORD '$owner_sql';
CREATE ROLE iiz LOGIN PASSWORD '$service_sql';
CREATE DATABASE iiz OWNER iiz_owner;
REVOKE ALL ON DATABASE iiz FROM PUBLIC;
GRANT CONNECT ON DATABASE iiz TO iiz;
SQL
