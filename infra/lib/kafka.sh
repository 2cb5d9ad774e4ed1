# Apache Kafka, single node in KRaft combined mode, from Maven Central jars.
KAFKA_LIB="$CACHE/kafka-$KAFKA_VERSION/lib"

install_kafka() {
  [ -f "$KAFKA_LIB/.complete" ] && return 0
  command -v java >/dev/null || die "kafka: java (17+) is required"
  command -v mvn >/dev/null || die "kafka: maven is required to resolve the broker jars"
  log "kafka: resolving kafka_2.13 $KAFKA_VERSION with Maven (first run only)"
  rm -rf "$KAFKA_LIB"
  mvn -q -B -f "$INFRA/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB" >&2 \
    || die "kafka: maven could not resolve the broker jars"
  touch "$KAFKA_LIB/.complete"
}

kafka_config() {
  local dir="$STATE/kafka"
  mkdir -p "$dir/data"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
log.retention.check.interval.ms=60000
PROPS
  echo "$dir/server.properties"
}

start_kafka() {
  install_kafka
  is_running kafka && return 0
  require_free_port kafka "$KAFKA_PORT"
  local props; props=$(kafka_config)
  if [ ! -f "$STATE/kafka/data/meta.properties" ]; then
    local id; id=$(java -cp "$KAFKA_LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    java -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format -t "$id" -c "$props" >/dev/null 2>>"$(log_file kafka)" \
      || die "kafka: storage format failed (see $(log_file kafka))"
  fi
  log "kafka: starting on 127.0.0.1:$KAFKA_PORT"
  launch kafka java -Xms256m -Xmx1g -XX:+UseG1GC \
    -Dlog4j.configuration="file:$INFRA/kafka/log4j.properties" -Dkafka.logs.dir="$STATE/logs" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$props"
}

ready_kafka() { wait_until kafka 90 grep -q 'Kafka Server started' "$(log_file kafka)"; }
stop_kafka() { stop_process kafka; }
