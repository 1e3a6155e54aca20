#!/bin/sh
# KAFKA_* environment -> /var/lib/kafka/server.properties (the cp-kafka convention: strip KAFKA_,
# lower case, `___` -> `-`, `__` -> `_`, `_` -> `.`), format the KRaft log dir with CLUSTER_ID on first
# start, then run the broker in the foreground.
set -eu
props=/var/lib/kafka/server.properties
: >"$props"
env | sort | while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS|KAFKA_JVM_OPTS|KAFKA_OPTS|KAFKA_LOG4J_OPTS) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key=$(printf '%s' "${name#KAFKA_}" | tr 'A-Z' 'a-z' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
  printf '%s=%s\n' "$key" "$value" >>"$props"
done
grep -q '^log\.dirs=' "$props" || echo "log.dirs=/var/lib/kafka/data" >>"$props"
logdir=$(sed -n 's/^log\.dirs=//p' "$props" | cut -d, -f1)
if [ ! -f "$logdir/meta.properties" ]; then
  java -Xmx128m -cp '/opt/kafka/libs/*' -Dlog4j.configuration=file:/opt/kafka/config/tools-log4j.properties \
    kafka.tools.StorageTool format -t "${CLUSTER_ID:?CLUSTER_ID must be set}" -c "$props" --ignore-formatted
fi
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} ${KAFKA_JVM_OPTS:-} ${KAFKA_OPTS:-} \
  -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties -cp '/opt/kafka/libs/*' kafka.Kafka "$props"
