#!/usr/bin/env bash
# Ledger settlement benchmark: N usage events written to the usage outbox by the metering code (UsageOutbox),
# published by the packaged application's outbox relay and settled by its ledger consumers (synchronous commit
# on): a backlog committed at once, as fast as written, and written at a steady rate; a run paced at 1,000
# events/s, the naive one-transaction-per-event baseline, and pgbench TPC-B against the same PostgreSQL server.
# Options are passed on (--sustained-rate 0 leaves out the steady run):
#   --events 1000000  --warmup-events 100000  --sustained-rate 25000  --paced-seconds 30  --naive-events 5000
#   --pgbench-seconds 30
#   --buyers even (64 buyers spread evenly over the partitions; random: the first 64 created)
#   --source outbox (kafka: produce the events straight to the topic, without the outbox and the relay)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pgbench >/dev/null; then
  echo "pgbench is missing; installing Debian's postgresql-contrib" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -q postgresql-contrib >&2; else sudo apt-get install -y -q postgresql-contrib >&2; fi
fi

. load-tests/select-jdk25.sh

./mvnw -q -B package -DskipTests
./mvnw -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/benchmark-classpath.txt
# JBoss LogManager as the JDK's log manager, as in the test runs: the benchmark's JVM also runs the Kafka
# broker, which logs through it (LedgerBenchmark sets its level).
exec "$JAVA_HOME/bin/java" --add-modules=jdk.incubator.vector -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
  -cp "target/test-classes:target/classes:$(cat target/benchmark-classpath.txt)" \
  dev.tokenmarket.ledger.bench.LedgerBenchmark --pgbench "$(command -v pgbench)" "$@"
