#!/usr/bin/env bash
# One-shot init of the compose setups (docker-compose.yml, docker-compose.cluster.yml): the local
# CA, the brokers' certificate and the two super users' passwords, into /secrets (a host folder,
# .infra-compose/ by default). Runs in the apache/kafka image (keytool from its JRE; no openssl
# there). Idempotent: what exists is kept. Same layout as infra/local's state folder:
#   /secrets/tls/ca.pem                      the CA certificate clients trust
#   /secrets/tls/broker.p12                  the brokers' key and certificate chain (PKCS12)
#   /secrets/credentials/kafka/<principal>.password   admin, broker (0600)
set -euo pipefail
S="${IIZ_SECRETS_DIR:-/secrets}"
TLS="$S/tls"
CRED="$S/credentials/kafka"
SANS="${IIZ_BROKER_SANS:-dns:kafka,dns:kafka-1,dns:kafka-2,dns:kafka-3,dns:localhost,ip:127.0.0.1}"
mkdir -p "$TLS" "$CRED"
chmod 700 "$S/credentials" "$CRED"

secret() {  # a 64-hex-character password, made once
  local f="$CRED/$1.password"
  if [ ! -s "$f" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f")
    echo "[secrets] new password for $1"
  fi
}
secret admin
secret broker
# The keystores' own password protects files that stay inside this folder.
secret keystore
KS_PW="$(cat "$CRED/keystore.password")"

if [ ! -s "$TLS/ca.p12" ]; then
  rm -f "$TLS/broker.p12" "$TLS/ca.pem"
  keytool -genkeypair -alias ca -keyalg EC -groupname secp256r1 -sigalg SHA256withECDSA \
    -dname "O=IIZ BL local,CN=IIZ compose Kafka CA" -validity 3650 \
    -ext bc:c=ca:true -ext ku:c=keyCertSign,cRLSign \
    -keystore "$TLS/ca.p12" -storetype PKCS12 -storepass "$KS_PW"
  echo "[secrets] new CA"
fi
[ -s "$TLS/ca.pem" ] || keytool -exportcert -rfc -alias ca -keystore "$TLS/ca.p12" -storepass "$KS_PW" >"$TLS/ca.pem"
chmod 644 "$TLS/ca.pem"

if [ ! -s "$TLS/broker.p12" ]; then
  keytool -genkeypair -alias broker -keyalg EC -groupname secp256r1 -sigalg SHA256withECDSA \
    -dname "O=IIZ BL local,CN=iiz-kafka-broker" -validity 825 \
    -keystore "$TLS/broker.p12" -storetype PKCS12 -storepass "$KS_PW"
  keytool -certreq -alias broker -keystore "$TLS/broker.p12" -storepass "$KS_PW" \
    | keytool -gencert -alias ca -keystore "$TLS/ca.p12" -storepass "$KS_PW" -validity 825 -rfc \
        -ext "san=$SANS" -ext ku:c=digitalSignature,keyEncipherment -ext eku=serverAuth,clientAuth \
      >"$TLS/broker.pem"
  keytool -importcert -noprompt -alias ca -file "$TLS/ca.pem" -keystore "$TLS/broker.p12" -storepass "$KS_PW"
  keytool -importcert -noprompt -alias broker -file "$TLS/broker.pem" -keystore "$TLS/broker.p12" -storepass "$KS_PW"
  echo "[secrets] new broker certificate for $SANS"
fi
chmod 600 "$TLS/ca.p12" "$TLS/broker.p12"
# The brokers run as the image's user (appuser, uid 1000): let them read what they need.
chown -R "${IIZ_KAFKA_UID:-1000}" "$S" 2>/dev/null || true
echo "[secrets] ready in $S"
