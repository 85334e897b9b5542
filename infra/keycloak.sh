# The local OpenID Connect provider for infra/local (sourced by it; uses its log/die/now/elapsed,
# port_busy_check, ensure_java_mvn, STATE, LOG_DIR, RUN_DIR, VENV_PY, REPO, READY_TIMEOUT).
#
# Keycloak from its official distribution on Maven Central (org.keycloak:keycloak-quarkus-dist),
# in dev mode with an in-memory database: every start imports the realms that
# `python -m services.ops identity realm` writes from the institution registry (realm iiz-bl,
# plus iiz-fremd, a second issuer for the tests). Users and sessions do not survive a restart;
# the passwords and client secrets do (files in the state folder). See infra/README.md.
#
# Each state folder runs its own copy of the distribution ($STATE/keycloak/dist): Keycloak writes
# its build ("augmentation") into the distribution's lib/quarkus and reads the realms from its
# data/import, so two state folders must not share one. The jars (lib/lib, 168 MB) are hard
# links into the unpacked cache where the file system allows.

KC_VERSION="${IIZ_KEYCLOAK_VERSION:-26.7.3}"  # newest keycloak-quarkus-dist on Maven Central when written
KC_CACHE="${IIZ_KEYCLOAK_CACHE:-$HOME/.cache/iiz/keycloak-$KC_VERSION}"
# IIZ_KEYCLOAK=off: 'up' starts no Keycloak and 'env' names none (private instances of tests
# that are about Kafka and PostgreSQL only); 'down' stops one all the same.
KC_ENABLED="${IIZ_KEYCLOAK:-on}"
KC_HOST="127.0.0.1"
KC_PORT="${IIZ_KEYCLOAK_PORT:-18080}"
KC_MANAGEMENT_PORT="${IIZ_KEYCLOAK_MANAGEMENT_PORT:-19000}"
KC_READY_TIMEOUT="${IIZ_KEYCLOAK_READY_TIMEOUT:-240}"  # a first start builds (~30-50 s on 2 cores)
KC_REALM="iiz-bl"
KC_AUDIENCE="iiz-timeline-api"
KC_DIR="$STATE/keycloak"
KC_HOME="$KC_DIR/dist"
KC_CRED_DIR="$STATE/credentials/keycloak"
KC_PIDFILE="$RUN_DIR/keycloak.pgid"   # the process group of kc.sh and its java
KC_LOG="$LOG_DIR/keycloak.log"
KC_ISSUER="http://$KC_HOST:$KC_PORT/realms/$KC_REALM"
# Build options: the same on every start, or Keycloak builds again (~20 s).
KC_BUILD_OPTIONS=(--db=dev-mem --health-enabled=true)

kc_java_home() {  # the newest JDK >= 21 the image has (Keycloak's supported ones), else the default java (17)
  local d
  for d in /usr/lib/jvm/temurin-2[5-9]* /usr/lib/jvm/temurin-21* /usr/lib/jvm/java-2[1-9]-openjdk*; do
    [ -x "$d/bin/java" ] && { echo "$d"; return 0; }
  done
  have java || return 1
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

kc_fetch() {  # the unpacked distribution in $KC_CACHE (downloaded once; a lock for parallel 'up's)
  [ -f "$KC_CACHE/.complete" ] && return 0
  ensure_java_mvn
  have unzip || { if can_apt; then apt_install unzip; else die "missing: unzip (Debian package unzip)"; fi; }
  mkdir -p "$(dirname "$KC_CACHE")"
  (
    flock 9
    [ -f "$KC_CACHE/.complete" ] && exit 0
    local t0 work
    t0="$(now)"
    log "fetching org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip from Maven Central into $KC_CACHE ..."
    work="$(mktemp -d "$(dirname "$KC_CACHE")/.fetch-keycloak-XXXXXX")"
    mvn -q -B dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip" \
        -DoutputDirectory="$work" >"$work/mvn.log" 2>&1 \
      || { cat "$work/mvn.log" >&2; die "downloading Keycloak $KC_VERSION failed (mvn dependency:copy)"; }
    unzip -q "$work/keycloak-quarkus-dist-$KC_VERSION.zip" -d "$work" \
      || die "unpacking Keycloak $KC_VERSION failed"
    rm -rf "$KC_CACHE"
    mv "$work/keycloak-$KC_VERSION" "$KC_CACHE"
    rm -rf "$work"
    touch "$KC_CACHE/.complete"
    log "keycloak $KC_VERSION fetched in $(elapsed "$t0") s"
  ) 9>"$(dirname "$KC_CACHE")/.keycloak-$KC_VERSION.lock" || exit 1
}

kc_install() {  # this state folder's own copy of the distribution
  if [ -f "$KC_HOME/.complete" ] && [ "$(cat "$KC_HOME/.complete")" = "$KC_VERSION" ]; then return 0; fi
  rm -rf "$KC_HOME"
  mkdir -p "$KC_HOME/lib"
  local entry
  for entry in "$KC_CACHE"/* "$KC_CACHE"/lib/*; do
    case "$entry" in "$KC_CACHE/lib"|"$KC_CACHE/lib/lib") continue ;; esac
    cp -a "$entry" "$KC_HOME/${entry#"$KC_CACHE"/}"
  done
  cp -al "$KC_CACHE/lib/lib" "$KC_HOME/lib/lib" 2>/dev/null || cp -a "$KC_CACHE/lib/lib" "$KC_HOME/lib/lib"
  echo "$KC_VERSION" >"$KC_HOME/.complete"
}

kc_write_realms() {  # secrets (kept) and the realm JSON into the distribution's import folder
  [ -x "$VENV_PY" ] || die "no $VENV_PY: 'make setup' first (the realm is generated from the registry)"
  rm -rf "$KC_HOME/data/import"
  (cd "$REPO" && "$VENV_PY" -m services.ops identity realm \
      --credentials-dir "$KC_CRED_DIR" --import-dir "$KC_HOME/data/import") \
    || die "generating the Keycloak realm failed (python -m services.ops identity realm)"
}

kc_pid() {  # prints the process group id of our running Keycloak
  local pgid
  pgid="$( { cat "$KC_PIDFILE" 2>/dev/null || true; } | tr -dc '0-9')"
  [ -n "$pgid" ] || return 1
  # a process of that group that runs from this state folder's distribution
  ps -ww -eo pgid=,args= 2>/dev/null | awk -v g="$pgid" -v h="$KC_HOME/" '$1 == g && index($0, h) { found = 1 } END { exit !found }' \
    || return 1
  echo "$pgid"
}

kc_java_pid() {  # the java process of the group (for RSS and status)
  local pgid="$1"
  ps -eo pid=,pgid=,comm= | awk -v g="$pgid" '$2 == g && $3 == "java" { print $1; exit }'
}

kc_http_ok() {  # kc_http_ok <url>
  if have curl; then curl -sf -o /dev/null --max-time 5 "$1"
  else "$VENV_PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$1" 2>/dev/null
  fi
}

kc_ready() {
  kc_http_ok "http://$KC_HOST:$KC_MANAGEMENT_PORT/health/ready" \
    && kc_http_ok "$KC_ISSUER/.well-known/openid-configuration"
}

kc_up() {
  local pgid t0 java_home
  if [ "$KC_ENABLED" = off ]; then log "keycloak: not started (IIZ_KEYCLOAK=off)"; return 0; fi
  if pgid="$(kc_pid)"; then
    kc_ready || die "keycloak (process group $pgid) runs but does not answer on $KC_HOST:$KC_PORT; 'infra/local down' and 'up' again (log: $KC_LOG)"
    log "keycloak: already running (process group $pgid, issuer $KC_ISSUER)"
    return 0
  fi
  port_busy_check "$KC_PORT" IIZ_KEYCLOAK_PORT "keycloak http"
  port_busy_check "$KC_MANAGEMENT_PORT" IIZ_KEYCLOAK_MANAGEMENT_PORT "keycloak management/health"
  kc_fetch
  kc_install
  kc_write_realms
  java_home="$(kc_java_home)" || die "no Java for Keycloak (Java 21+ preferred, 17 works): install openjdk-17-jre-headless"
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  rm -f "$KC_PIDFILE"
  t0="$(now)"
  log "starting keycloak $KC_VERSION on $KC_HOST:$KC_PORT (management $KC_HOST:$KC_MANAGEMENT_PORT, java $java_home) ..."
  # The bootstrap administrator's password goes through the environment only (never argv).
  # setsid: kc.sh and its java form one process group, stopped together by 'down'.
  JAVA_HOME="$java_home" KC_BOOTSTRAP_ADMIN_USERNAME=admin \
    KC_BOOTSTRAP_ADMIN_PASSWORD="$(cat "$KC_CRED_DIR/admin.password")" \
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$KC_PIDFILE" \
      "$KC_HOME/bin/kc.sh" start-dev "${KC_BUILD_OPTIONS[@]}" --import-realm \
      --http-host="$KC_HOST" --http-port="$KC_PORT" --hostname="http://$KC_HOST:$KC_PORT" \
      --http-management-host="$KC_HOST" --http-management-port="$KC_MANAGEMENT_PORT" \
      >"$KC_LOG" 2>&1 </dev/null &
  CHANGED=1
  local deadline=$(( $(date +%s) + KC_READY_TIMEOUT )) missing=0
  until kc_ready; do
    # Gone only when missed three polls running: kc.sh replaces itself by the server's java
    # after its build step, and a look at that moment can find neither.
    if [ -s "$KC_PIDFILE" ] && ! kc_pid >/dev/null; then missing=$((missing + 1)); else missing=0; fi
    if [ "$missing" -ge 3 ]; then
      tail -n 30 "$KC_LOG" >&2
      die "keycloak stopped during start (log: $KC_LOG)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 30 "$KC_LOG" >&2
      die "keycloak did not become ready within ${KC_READY_TIMEOUT} s (IIZ_KEYCLOAK_READY_TIMEOUT; log: $KC_LOG)"
    fi
    sleep 0.5
  done
  log "keycloak ready in $(elapsed "$t0") s (process group $(cat "$KC_PIDFILE"), issuer $KC_ISSUER)"
}

kc_down() {
  local pgid i
  pgid="$(kc_pid)" || { rm -f "$KC_PIDFILE"; return 0; }
  log "stopping keycloak (process group $pgid) ..."
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for ((i = 0; i < 120; i++)); do
    kc_pid >/dev/null || break
    sleep 0.25
  done
  if kc_pid >/dev/null; then
    warn "keycloak (process group $pgid) still runs 30 s after SIGTERM; SIGKILL"
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  rm -f "$KC_PIDFILE"
}

kc_status() {
  local pgid java
  echo "keycloak $KC_VERSION (dev mode, in-memory database; realms imported at every start)"
  if pgid="$(kc_pid)"; then
    java="$(kc_java_pid "$pgid")"
    echo "  state:    running"
    echo "  pid:      $pgid (process group; java ${java:--}${java:+, RSS $(( $(ps -o rss= -p "$java" 2>/dev/null || echo 0) / 1024 )) MB})"
  else
    echo "  state:    stopped"
    echo "  pid:      -"
  fi
  echo "  address:  http://$KC_HOST:$KC_PORT (management/health $KC_HOST:$KC_MANAGEMENT_PORT)"
  echo "  issuer:   $KC_ISSUER (admin console http://$KC_HOST:$KC_PORT/admin/, user admin)"
  echo "  secrets:  $KC_CRED_DIR (users/<name>.password, clients/<id>.secret, admin.password)"
  echo "  dist:     $KC_HOME (from $KC_CACHE$([ -f "$KC_CACHE/.complete" ] || echo ", not fetched"))"
  echo "  log:      $KC_LOG"
}

kc_pids() {
  local pgid
  if pgid="$(kc_pid)"; then echo "keycloak $pgid"; else echo "keycloak -"; fi
}

kc_secret() {  # kc_secret <client id>: its secret, empty if not yet made
  { cat "$KC_CRED_DIR/clients/$1.secret" 2>/dev/null || true; } | tr -d '\n'
}

kc_env() {  # kc_env <principal>: the identity provider's settings for admin and the services
  local coordination=0 intake=0
  [ "$KC_ENABLED" != off ] || return 0
  case "$1" in
    admin) coordination=1; intake=1
      printf 'export IIZ_KEYCLOAK_CREDENTIALS_DIR=%q\n' "$KC_CRED_DIR" ;;
    service-coordination) coordination=1 ;;
    service-intake) intake=1 ;;
    *) return 0 ;;
  esac
  echo "export IIZ_OIDC_ISSUER=$KC_ISSUER"
  if [ "$coordination" -eq 1 ]; then
    echo "export IIZ_COORDINATION_JWKS_URL=$KC_ISSUER/protocol/openid-connect/certs"
    echo "export IIZ_COORDINATION_JWT_ISSUER=$KC_ISSUER"
    echo "export IIZ_COORDINATION_JWT_AUDIENCE=$KC_AUDIENCE"
    echo "export IIZ_COORDINATION_OIDC_CLIENT_ID=iiz-seiten"
    printf 'export IIZ_COORDINATION_OIDC_CLIENT_SECRET=%q\n' "$(kc_secret iiz-seiten)"
  fi
  if [ "$intake" -eq 1 ]; then
    echo "export IIZ_INTAKE_OIDC_CLIENT_ID=iiz-formular"
    printf 'export IIZ_INTAKE_OIDC_CLIENT_SECRET=%q\n' "$(kc_secret iiz-formular)"
  fi
}
