#!/usr/bin/env bash
# Starts one Kafka node of the compose setups with the same security as infra/local: SASL_SSL
# (SCRAM-SHA-512) for clients and between brokers, TLS + SASL/PLAIN (one static user) on the
# controller listener, StandardAuthorizer with no access without an ACL. Formats the storage
# once, bootstrapping the SCRAM credentials of admin and broker. Environment:
#   NODE_ID, QUORUM_VOTERS (1@kafka-1:9093,...), ADVERTISED (HOST://localhost:9092,DOCKER://kafka-1:29092),
#   RF, MIN_ISR, HEAP, IO_THREADS, CLUSTER_ID
# (LISTENERS, DATA_DIR and KAFKA_HOME have the container's defaults; set them to try the script
# outside a container.)
set -euo pipefail
LISTENERS="${LISTENERS:-HOST://:9092,DOCKER://:29092,CONTROLLER://:9093}"
DATA_DIR="${DATA_DIR:-/var/lib/kafka/data}"
KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
S="${IIZ_SECRETS_DIR:-/secrets}"
CRED="$S/credentials/kafka"
for f in "$S/tls/broker.p12" "$S/tls/ca.pem" "$CRED/admin.password" "$CRED/broker.password"; do
  [ -s "$f" ] || { echo "[kafka] missing $f: the kafka-secrets service makes it" >&2; exit 1; }
done
ADMIN_PW="$(cat "$CRED/admin.password")"
BROKER_PW="$(cat "$CRED/broker.password")"
KS_PW="$(cat "$CRED/keystore.password")"
CONF="${CONF:-/tmp/server.properties}"
(umask 077 && cat >"$CONF" <<PROPS
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$QUORUM_VOTERS
listeners=$LISTENERS
advertised.listeners=$ADVERTISED
listener.security.protocol.map=HOST:SASL_SSL,DOCKER:SASL_SSL,CONTROLLER:SASL_SSL
inter.broker.listener.name=DOCKER
controller.listener.names=CONTROLLER
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.host.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.host.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.docker.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.docker.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="$BROKER_PW";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="$BROKER_PW" user_broker="$BROKER_PW";
ssl.keystore.type=PKCS12
ssl.keystore.location=$S/tls/broker.p12
ssl.keystore.password=$KS_PW
ssl.key.password=$KS_PW
ssl.truststore.type=PEM
ssl.truststore.location=$S/tls/ca.pem
ssl.client.auth=none
ssl.enabled.protocols=TLSv1.3,TLSv1.2
ssl.endpoint.identification.algorithm=https
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:broker
log.dirs=$DATA_DIR
num.partitions=6
default.replication.factor=$RF
min.insync.replicas=$MIN_ISR
auto.create.topics.enable=false
offsets.topic.replication.factor=$RF
transaction.state.log.replication.factor=$RF
transaction.state.log.min.isr=$MIN_ISR
share.coordinator.state.topic.replication.factor=$RF
share.coordinator.state.topic.min.isr=$MIN_ISR
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=$IO_THREADS
PROPS
)
if [ ! -f "$DATA_DIR/meta.properties" ]; then
  "$KAFKA_HOME/bin/kafka-storage.sh" format -t "$CLUSTER_ID" -c "$CONF" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$ADMIN_PW]" \
    --add-scram "SCRAM-SHA-512=[name=broker,password=$BROKER_PW]"
fi
export KAFKA_HEAP_OPTS="$HEAP"
exec "$KAFKA_HOME/bin/kafka-server-start.sh" "$CONF"
