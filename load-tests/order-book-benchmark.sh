#!/usr/bin/env bash
# Order book benchmark: matching alone, one thread, the same seeded flow through FastOrderBook, SimpleOrderBook
# and exchange-core's order book (a test-scope dependency, never the product's) in one run; then a longer
# differential run of the fast book against the simple one. Run it alone on the machine:
#   flock /tmp/tokenmarket-bench.lock load-tests/order-book-benchmark.sh   # --ops 1000000 --rounds 7 --differential-seeds 5
# Options are OrderBookBenchmark's (see its class comment).
set -euo pipefail
cd "$(dirname "$0")/.."

. load-tests/select-jdk25.sh

benchmark_class=target/test-classes/dev/tokenmarket/forwards/book/OrderBookBenchmark.class
if [ ! -f "$benchmark_class" ] || [ -n "$(find src pom.xml -newer "$benchmark_class" -print -quit)" ]; then
  ./mvnw -q -B test-compile
fi
classpath_file=target/order-book-benchmark.classpath
if [ ! -f "$classpath_file" ] || [ pom.xml -nt "$classpath_file" ]; then
  ./mvnw -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$classpath_file" >/dev/null
fi
exec "$JAVA_HOME/bin/java" -Xms2g -Xmx2g -XX:+AlwaysPreTouch \
  -cp "target/test-classes:target/classes:$(cat "$classpath_file")" dev.tokenmarket.forwards.book.OrderBookBenchmark "$@"
