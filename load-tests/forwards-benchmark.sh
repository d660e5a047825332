#!/usr/bin/env bash
# Forward market benchmark: limit orders per second through HTTP (authentication, validation, the book and its
# group-committed journal), then the gateway benchmark against the same application in the same run, as the
# anchor. Run it alone on the machine:
#   flock /tmp/tokenmarket-bench.lock load-tests/forwards-benchmark.sh   # --rates 1000,2000,3000 --seconds 10
# Options are passed to ForwardBenchmark; GATEWAY_RATES (default 500) and GATEWAY_SECONDS (default 10) set the
# gateway run (GATEWAY_RATES=0 leaves it out). TOKENMARKET_BENCH_APP (default target/quarkus-app, rebuilt when a source
# is newer) runs a build copied aside instead, so that the worktree can be built while it runs;
# TOKENMARKET_BENCH_JVM_OPTIONS adds options to the application's JVM (a profiler, for instance).
set -euo pipefail
cd "$(dirname "$0")/.."

. load-tests/select-jdk25.sh

app="${TOKENMARKET_BENCH_APP:-target/quarkus-app}"
if [ -z "${TOKENMARKET_BENCH_APP:-}" ] && { [ ! -f "$app/quarkus-run.jar" ] \
     || [ -n "$(find src migrations pom.xml -newer "$app/quarkus-run.jar" -print -quit)" ]; }; then
  ./mvnw -q -B package -DskipTests
fi
bench_dir="$(mktemp -d -t tokenmarket-fwd-bench-XXXXXX)"
port="${TOKENMARKET_BENCH_PORT:-18080}"
management_port="${TOKENMARKET_BENCH_MANAGEMENT_PORT:-19000}"
# The benchmark's traders rest many orders on one instrument: the open-order limit is raised for it.
TOKENMARKET_DATA_DIR="$bench_dir" TOKENMARKET_ADMIN_KEY=bench-admin-key TOKENMARKET_PORT="$port" \
  TOKENMARKET_MANAGEMENT_PORT="$management_port" \
  "$JAVA_HOME/bin/java" --add-modules=jdk.incubator.vector -Dtokenmarket.forwards.open-orders-per-instrument-max=1000000 ${TOKENMARKET_BENCH_JVM_OPTIONS:-} \
  -jar "$app/quarkus-run.jar" >"$bench_dir/app.log" 2>&1 &
app_pid=$!
trap 'kill "$app_pid" 2>/dev/null; wait "$app_pid" 2>/dev/null || true; rm -rf "$bench_dir"' EXIT
for _ in $(seq 1 240); do
  if curl -fs "http://127.0.0.1:$management_port/q/health/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$app_pid" 2>/dev/null; then cat "$bench_dir/app.log" >&2; exit 1; fi
  sleep 0.5
done
classpath="$app/app/*:$app/lib/main/*"
"$JAVA_HOME/bin/java" -cp "$classpath" dev.tokenmarket.forwards.bench.ForwardBenchmark \
  --app "http://127.0.0.1:$port" --admin-key bench-admin-key "$@"
if [ "${GATEWAY_RATES:-500}" != "0" ]; then
  "$JAVA_HOME/bin/java" -cp "$classpath" dev.tokenmarket.gateway.bench.GatewayBenchmark \
    --gateway "http://127.0.0.1:$port" --admin-key bench-admin-key --rates "${GATEWAY_RATES:-500}" \
    --seconds "${GATEWAY_SECONDS:-10}" --gateway-warmup-seconds 20 --warmup-seconds 5
fi
