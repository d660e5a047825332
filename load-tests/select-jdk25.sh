# Sourced by the benchmark scripts: exports JAVA_HOME as the first JDK 25 or newer found (the caller's
# JAVA_HOME first), the same choice as ./tokenmarket makes.
for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*25*; do
  if [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] \
     && "$candidate/bin/java" -XshowSettings:properties -version 2>&1 | grep -q 'java.specification.version = 2[5-9]'; then
    export JAVA_HOME="$candidate"
    break
  fi
done
