package dev.tokenmarket.ledger.bench;

import dev.tokenmarket.ledger.LedgerConsumer;
import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.metering.UsageEventCodec;
import dev.tokenmarket.metering.UsageOutbox;
import dev.tokenmarket.platform.OneRoundTrip;
import dev.tokenmarket.platform.embedded.EmbeddedInfrastructure;
import dev.tokenmarket.testing.PackagedApplication;
import dev.tokenmarket.testing.TemporaryDirectories;
import dev.tokenmarket.testing.UsageEvents;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The ledger's settlement benchmark: usage events written to the usage outbox by the metering code
 * ({@link UsageOutbox}), published by the packaged application's outbox relay and settled by its ledger
 * consumers into PostgreSQL with synchronous commit on; pgbench TPC-B against the same server for scale.
 * With {@code --source kafka} the events are produced straight to the topic instead, leaving the outbox and
 * the relay out (the path this benchmark measured before the relay sent the encoder's bytes). Run by
 * {@code load-tests/ledger-benchmark.sh}.
 *
 * <p>Settle latency is measured on probe events (every {@value #PROBE_EVERY}th event): the time from the
 * event being committed to the outbox (or handed to the Kafka producer) to the moment its journal entry is
 * visible to a reader, which means committed. One thread looks for each partition's oldest {@value #PROBE_HEADS} outstanding probes every
 * {@value #PROBE_POLL_MILLIS} ms, so that the measuring itself stays a small load on the database it measures.
 */
public final class LedgerBenchmark {

    private static final String ADMIN_KEY = "ledger-benchmark-admin-key";
    /**
     * Events are keyed by buyer, so the buyers decide how evenly the topic's 8 partitions (and the two
     * consumer threads reading them) share the work; with 8 buyers several hash to the same partition and
     * others get none. A marketplace has many buyers, which spread over the partitions evenly; with
     * {@code --buyers even} (the default) the 64 are picked so that each partition has 8, so that the
     * figure does not depend on where 64 random ids happen to hash. With {@code --buyers random} they are
     * the first 64 created (one run: 17, 6, 9, 5, 2, 10, 8 and 7 per partition).
     */
    private static final int BUYERS = 64;
    private static final int PROBE_EVERY = 100;
    /** The shortest sleep of a paced producer that is ahead of its schedule. */
    private static final long PACING_TICK_NANOS = 1_000_000;
    /**
     * How long the producer of a timed run waits to fill a batch (counted in the settle latency). At a steady
     * 25,000 events/s, batches sent every 5 ms kept the broker's request handlers at about a third of a core.
     */
    private static final int PRODUCER_LINGER_MILLIS = 20;
    /**
     * Probes looked up per partition and poll: a partition settles in offset order, so only its oldest
     * outstanding probes can have settled since the last look, about 12 per 5,000-event batch.
     */
    private static final int PROBE_HEADS = 16;
    /**
     * The watcher's lookups are work for the PostgreSQL the ledger is measured on: 512 probes every 2 ms,
     * as it first was, took about a third of a core from settlement during the live run.
     */
    private static final int PROBE_POLL_MILLIS = 5;
    /** How often the settled count is read: a count over millions of entries is itself work for PostgreSQL. */
    private static final int COUNT_POLL_MILLIS = 250;
    /** Each look at the group's lag is three requests to the broker, which shares the machine with the ledger. */
    private static final int LAG_POLL_MILLIS = 100;
    /** Holds placed per transaction when preparing a run, and outbox rows per statement of a backlog. */
    private static final int HOLD_CHUNK = 10_000;
    /** The most usage events one outbox transaction carries: a gateway's group commit takes up to 256 requests. */
    private static final int OUTBOX_GROUP_MAX = 256;
    private static final Pattern TPS = Pattern.compile("tps = ([0-9.]+) \\(without initial connection time\\)");

    private final EmbeddedInfrastructure infrastructure;
    private final String jdbcUrl;
    private final String user;
    private final String password;
    private String provider;
    private final List<String> buyers = new ArrayList<>();
    /** The usage topic's partition each buyer's events go to. */
    private final Map<String, Integer> partitionOf = new HashMap<>();
    private Admin admin;
    private boolean evenBuyers;
    private boolean throughOutbox;

    private LedgerBenchmark(EmbeddedInfrastructure infrastructure) {
        this.infrastructure = infrastructure;
        Map<String, String> config = infrastructure.configuration();
        jdbcUrl = config.get("quarkus.datasource.jdbc.url");
        user = config.get("quarkus.datasource.username");
        password = config.get("quarkus.datasource.password");
    }

    public static void main(String[] args) throws Exception {
        // This JVM runs the Kafka broker and the benchmark's producer, and nothing configures its log manager
        // (Quarkus does that in the application): left alone it told Kafka that trace logging was on, and
        // the producer and the broker formatted a trace message for every record they handled.
        org.jboss.logmanager.LogContext.getLogContext().getLogger("").setLevel(java.util.logging.Level.INFO);
        Map<String, String> options = new HashMap<>(Map.of("events", "1000000", "warmup-events", "100000",
                "sustained-rate", "25000", "paced-seconds", "30", "naive-events", "5000", "pgbench-seconds", "30",
                "pgbench", "pgbench", "buyers", "even", "source", "outbox"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            options.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        int events = Integer.parseInt(options.get("events"));
        Path work = Files.createTempDirectory("ledger-benchmark-");
        System.out.printf(Locale.ROOT, "ledger benchmark: %,d events, %d cores, load average %s, data in %s%n",
                events, Runtime.getRuntime().availableProcessors(), loadAverage(), work);
        try (EmbeddedInfrastructure infrastructure = EmbeddedInfrastructure.start(work.resolve("infra"), true, true)) {
            LedgerBenchmark benchmark = new LedgerBenchmark(infrastructure);
            benchmark.evenBuyers = switch (options.get("buyers")) {
                case "even" -> true;
                case "random" -> false;
                default -> throw new IllegalArgumentException("--buyers is even or random, not " + options.get("buyers"));
            };
            benchmark.throughOutbox = switch (options.get("source")) {
                case "outbox" -> true;
                case "kafka" -> false;
                default -> throw new IllegalArgumentException("--source is outbox or kafka, not " + options.get("source"));
            };
            System.out.printf("events enter %s%n", benchmark.throughOutbox
                    ? "the usage outbox (UsageOutbox), relayed to Kafka by the application" : "Kafka straight from the benchmark's producer");
            benchmark.run(work, events, Integer.parseInt(options.get("warmup-events")),
                    Integer.parseInt(options.get("sustained-rate")), Integer.parseInt(options.get("paced-seconds")),
                    Integer.parseInt(options.get("naive-events")), Integer.parseInt(options.get("pgbench-seconds")),
                    options.get("pgbench"));
        } finally {
            // A run of a million events leaves about 8 GB of database and broker data behind.
            TemporaryDirectories.delete(work);
        }
        System.out.printf("load average at the end: %s%n", loadAverage());
    }

    private PackagedApplication application(Path work, Map<String, String> settings) throws Exception {
        Map<String, String> properties = new HashMap<>(infrastructure.configuration());
        properties.putAll(settings);
        PackagedApplication app = new PackagedApplication(Map.of(
                "TOKENMARKET_DATA_DIR", work.resolve("app").toString(), "TOKENMARKET_ADMIN_KEY", ADMIN_KEY), properties);
        app.start();
        return app;
    }

    private void run(Path work, int events, int warmupEvents, int sustainedRate, int pacedSeconds, int naiveEvents,
                     int pgbenchSeconds, String pgbench) throws Exception {
        PackagedApplication app = application(work, Map.of());
        setUp(app);
        // The drain is measured on a warmed-up ledger, as one that has been running settles: started cold,
        // its first batches run in the JVM's interpreter and first-tier compiler (parsing and preparing took
        // 6-10 times as long per batch). Over a million events it made no difference beyond the spread
        // between runs (2026-11-29: 22,548 events/s warm, 23,006 with --warmup-events 0).
        if (warmupEvents > 0) {
            settle(warmupEvents, 0);
        }
        ServerWork beforeDrain;
        double drained;
        if (throughOutbox) {
            // A backlog in the outbox, as after a broker outage: committed at once, then relayed and settled.
            List<UsageEvent> backlog = servedRequests(events, new Random(-events));
            beforeDrain = serverWork();
            Timestamp committedAt = commitToOutbox(backlog);
            awaitUsageEntries(warmupEvents + events);
            drained = drainRate(committedAt, events, true);
        } else {
            app.setSettlementPaused(ADMIN_KEY, true);
            produceBacklog(events);
            beforeDrain = serverWork();
            Timestamp resumedAt = databaseNow();
            app.setSettlementPaused(ADMIN_KEY, false);
            awaitUsageEntries(warmupEvents + events);
            drained = drainRate(resumedAt, events, false);
        }
        System.out.printf(Locale.ROOT, "the drain: %s%n", serverWork().since(beforeDrain, events));
        ServerWork beforeLive = serverWork();
        Result full = settle(events, 0);
        System.out.printf(Locale.ROOT, "the live run: %s%n", serverWork().since(beforeLive, events));
        // The same number of events again, sent at a steady rate, as gateways send them: whether the ledger
        // keeps up with that rate end to end (settle latency stays bounded) while its own producer, the
        // broker and checkpoints share the machine with it.
        Result sustained = null;
        if (sustainedRate > 0) {
            ServerWork beforeSustained = serverWork();
            sustained = settle(events, sustainedRate);
            System.out.printf(Locale.ROOT, "the sustained run: %s%n", serverWork().since(beforeSustained, events));
        }
        Result paced = settle(pacedSeconds * 1_000, 1_000);
        check(app);
        app.stop();

        PackagedApplication naiveApp = application(work, Map.of("tokenmarket.ledger.batch-size-max", "1"));
        Result naive = settle(naiveEvents, 0);
        check(naiveApp);
        naiveApp.stop();

        // pgbench's defaults (one client) are the reference figure; eight clients show what the
        // same server does when commits of concurrent transactions share a WAL flush, as settlement's do.
        double pgbenchTps = pgbench(pgbench, pgbenchSeconds, 1);
        double pgbenchTps8 = pgbench(pgbench, pgbenchSeconds, 8);

        System.out.println();
        System.out.println("| run | events | settled per second | p50 settle latency | p99 settle latency |");
        System.out.println("|---|---:|---:|---:|---:|");
        System.out.printf(Locale.ROOT, "| batched, a backlog drained (%s, after %,d events of warm-up) | %,d | %,.0f | | |%n",
                throughOutbox ? "committed to the outbox at once" : "produced while settlement was paused", warmupEvents, events, drained);
        full.print("batched, as fast as produced");
        if (sustained != null) {
            sustained.print(String.format(Locale.ROOT, "batched, sent at a steady %,d events/s", sustainedRate));
        }
        paced.print("batched, paced at 1,000 events/s");
        naive.print("naive: one transaction per event");
        System.out.printf(Locale.ROOT, "%npgbench TPC-B (scale 10, default settings: 1 client, %d s, same server): %,.0f tx/s%n",
                pgbenchSeconds, pgbenchTps);
        System.out.printf(Locale.ROOT, "pgbench TPC-B (scale 10, 8 clients, 2 threads, %d s, same server): %,.0f tx/s%n",
                pgbenchSeconds, pgbenchTps8);
        double steady = sustained == null ? Double.NaN : sustained.perSecond;
        System.out.printf(Locale.ROOT, "settled events per second / pgbench tx per second: backlog %.1fx, live %.1fx, steady %.1fx "
                        + "(target 25x); against 8-client pgbench: backlog %.1fx, live %.1fx, steady %.1fx%n",
                drained / pgbenchTps, full.perSecond / pgbenchTps, steady / pgbenchTps,
                drained / pgbenchTps8, full.perSecond / pgbenchTps8, steady / pgbenchTps8);
        System.out.printf(Locale.ROOT, "batched / naive: %.1fx%n", full.perSecond / naive.perSecond);
        if (admin != null) {
            admin.close();
        }
    }

    private void setUp(PackagedApplication app) throws Exception {
        provider = app.as(ADMIN_KEY).body(Map.of("name", "benchmark provider", "roles", List.of("provider")))
                .post("/api/orgs").then().statusCode(201).extract().path("id");
        int partitions = usagePartitions();
        int[] buyersOfPartition = new int[partitions];
        for (int b = 0; buyers.size() < BUYERS; b++) {
            String buyer = app.as(ADMIN_KEY).body(Map.of("name", "benchmark buyer " + b, "roles", List.of("buyer")))
                    .post("/api/orgs").then().statusCode(201).extract().path("id");
            // The partition Kafka's producer puts this buyer's events in (keyed by the buyer id, as UTF-8).
            int partition = BuiltInPartitioner.partitionForKey(buyer.getBytes(StandardCharsets.UTF_8), partitions);
            if (evenBuyers && buyersOfPartition[partition] == BUYERS / partitions) {
                continue;
            }
            buyersOfPartition[partition]++;
            app.as(ADMIN_KEY).header("Idempotency-Key", "benchmark-" + b)
                    .body(Map.of("org_id", buyer, "amount", "1000000.00", "reference", "benchmark funds"))
                    .post("/api/ledger/deposits").then().statusCode(201);
            buyers.add(buyer);
            partitionOf.put(buyer, partition);
        }
        System.out.printf(Locale.ROOT, "%d buyers (%s), per partition of %s: %s%n", BUYERS,
                evenBuyers ? "picked to spread evenly" : "the first created", UsageEvent.TOPIC, Arrays.toString(buyersOfPartition));
    }

    private int usagePartitions() throws Exception {
        return admin().describeTopics(List.of(UsageEvent.TOPIC)).allTopicNames().get().get(UsageEvent.TOPIC).partitions().size();
    }

    private Admin admin() {
        if (admin == null) {
            admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, infrastructure.kafka().bootstrapServers()));
        }
        return admin;
    }

    private record Result(int events, double perSecond, double p50Ms, double p99Ms) {
        void print(String name) {
            System.out.printf(Locale.ROOT, "| %s | %,d | %,.0f | %.0f ms | %.0f ms |%n", name, events, perSecond, p50Ms, p99Ms);
        }
    }

    /** Produces {@code count} events while settlement is paused: a backlog for the drain run. */
    private void produceBacklog(int count) throws SQLException {
        List<UsageEvent> events = servedRequests(count, new Random(-count));
        try (UsageEvents usage = new UsageEvents(infrastructure.kafka().bootstrapServers())) {
            for (UsageEvent e : events) {
                usage.send(e);
            }
            usage.flush();
        }
    }

    /**
     * The usage events of {@code count} served requests, with the holds the gateway placed for them already
     * in the ledger (status settling: the request was metered), so settlement captures a hold per event as it
     * does in production. Placing the holds is not part of any measured time.
     */
    private List<UsageEvent> servedRequests(int count, Random random) throws SQLException {
        List<UsageEvent> events = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            events.add(UsageEvents.event(buyers.get(i % BUYERS), provider, 1 + random.nextInt(50), 1 + random.nextInt(256)));
        }
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password)) {
            c.setAutoCommit(false);
            Map<UUID, Long> wallets = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement(
                    "select org_id, id from ledger_accounts where kind = 'buyer_wallet' and org_id = any(?)")) {
                ps.setArray(1, c.createArrayOf("uuid", buyers.stream().map(UUID::fromString).toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        wallets.put(rs.getObject(1, UUID.class), rs.getLong(2));
                    }
                }
            }
            for (int from = 0; from < count; from += HOLD_CHUNK) {
                List<UsageEvent> chunk = events.subList(from, Math.min(count, from + HOLD_CHUNK));
                Map<Long, Long> heldPerWallet = new HashMap<>();
                UUID[] ids = new UUID[chunk.size()];
                Long[] accounts = new Long[chunk.size()];
                Long[] amounts = new Long[chunk.size()];
                for (int i = 0; i < chunk.size(); i++) {
                    UsageEvent e = chunk.get(i);
                    ids[i] = e.holdId();
                    accounts[i] = wallets.get(e.buyerOrgId());
                    // The gateway holds the most a request can cost; the actual cost is less.
                    amounts[i] = 2 * e.costNanoUsd();
                    heldPerWallet.merge(accounts[i], amounts[i], Long::sum);
                }
                try (PreparedStatement ps = c.prepareStatement("""
                        insert into holds (id, account_id, amount_nano_usd, status, reference, expires_at)
                        select id, account_id, amount, 'settling', 'ledger benchmark', now() + interval '1 day'
                        from unnest(?::uuid[], ?::bigint[], ?::bigint[]) as h(id, account_id, amount)""")) {
                    ps.setArray(1, c.createArrayOf("uuid", ids));
                    ps.setArray(2, c.createArrayOf("int8", accounts));
                    ps.setArray(3, c.createArrayOf("int8", amounts));
                    ps.executeUpdate();
                }
                try (PreparedStatement ps = c.prepareStatement(
                        "update ledger_accounts set held_nano_usd = held_nano_usd + ? where id = ?")) {
                    for (Map.Entry<Long, Long> held : heldPerWallet.entrySet()) {
                        ps.setLong(1, held.getValue());
                        ps.setLong(2, held.getKey());
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
                c.commit();
            }
        }
        return events;
    }

    /**
     * How fast the backlog was settled: its entries over the span from {@code since} (the backlog's commit to
     * the outbox, when {@code fromSince}) or from the first settling transaction, to the last settling
     * transaction (their created_at). The span leaves out the last batch's own write, under 1% of a backlog
     * of a million events.
     */
    private double drainRate(Timestamp since, int backlog, boolean fromSince) throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password);
             PreparedStatement ps = c.prepareStatement("""
                     select count(*), extract(epoch from max(created_at) - case when ? then ? else min(created_at) end)
                     from journal_entries where code = 'usage' and created_at >= ?""")) {
            ps.setBoolean(1, fromSince);
            ps.setTimestamp(2, since);
            ps.setTimestamp(3, since);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getLong(1) != backlog) {
                    throw new IllegalStateException("expected the " + backlog + " backlog events to be settled after resuming, found "
                            + rs.getLong(1));
                }
                System.out.printf(Locale.ROOT, "%,d backlog events settled in %.2f s%n", rs.getLong(1), rs.getDouble(2));
                return rs.getLong(1) / rs.getDouble(2);
            }
        }
    }

    /**
     * The server's checkpoints and WAL so far. A checkpoint during a measured run costs it (the checkpointer
     * and the kernel's writeback share the machine, and pages touched first after it are logged whole);
     * PostgreSQL starts one after about max_wal_size / (1 + checkpoint_completion_target) of WAL, so whether a
     * run meets one depends on how much was written before it.
     */
    private record ServerWork(long checkpoints, long walBytes, boolean checkpointing) {
        String since(ServerWork before, long events) {
            return String.format(Locale.ROOT, "%d checkpoint(s) started during it%s, %.2f KB of WAL per event",
                    checkpoints - before.checkpoints, before.checkpointing ? " (one running at its start)" : "",
                    (walBytes - before.walBytes) / 1024.0 / events);
        }
    }

    private ServerWork serverWork() throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("""
                     select num_timed + num_requested, (pg_current_wal_lsn() - '0/0')::bigint,
                            exists (select 1 from pg_stat_activity
                                    where backend_type = 'checkpointer' and wait_event is distinct from 'CheckpointerMain')
                     from pg_stat_checkpointer""")) {
            rs.next();
            return new ServerWork(rs.getLong(1), rs.getLong(2), rs.getBoolean(3));
        }
    }

    private Timestamp databaseNow() throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select clock_timestamp()")) {
            rs.next();
            return rs.getTimestamp(1);
        }
    }

    /**
     * Waits until {@code count} usage entries exist. While the ledger's consumer group is behind, it asks
     * Kafka (the group commits its offsets right after each database commit) rather than counting entries,
     * a scan that grows with the journal and would load the server being measured.
     */
    private void awaitUsageEntries(long count) throws Exception {
        // The relay deletes a row once Kafka has its event: an empty outbox means every event is on the topic.
        while (outboxWaiting()) {
            Thread.sleep(LAG_POLL_MILLIS);
        }
        while (groupLag() > 0) {
            Thread.sleep(LAG_POLL_MILLIS);
        }
        while (usageEntries() < count) {
            Thread.sleep(COUNT_POLL_MILLIS);
        }
    }

    /** Whether events wait in the outbox (read by its partial index, as the relay reads it, not by a scan of dead rows). */
    private boolean outboxWaiting() throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.execute("set local enable_seqscan = off");
            try (ResultSet rs = s.executeQuery("select exists (select 1 from usage_outbox where published_at is null)")) {
                rs.next();
                boolean waiting = rs.getBoolean(1);
                c.commit();
                return waiting;
            }
        }
    }

    /** Commits {@code events} to the outbox in one transaction; answers the database's time just after the commit. */
    private Timestamp commitToOutbox(List<UsageEvent> events) throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password)) {
            c.setAutoCommit(false);
            for (int from = 0; from < events.size(); from += HOLD_CHUNK) {
                OneRoundTrip.run(c, List.of(new UsageOutbox.InsertEvents(events.subList(from, Math.min(events.size(), from + HOLD_CHUNK)))));
            }
            c.commit();
        }
        return databaseNow();
    }

    /** Records of the usage topic the ledger's consumer group has not yet committed. */
    private long groupLag() throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (TopicPartitionInfo p : admin().describeTopics(List.of(UsageEvent.TOPIC)).allTopicNames().get()
                .get(UsageEvent.TOPIC).partitions()) {
            latest.put(new TopicPartition(UsageEvent.TOPIC, p.partition()), OffsetSpec.latest());
        }
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(LedgerConsumer.GROUP_ID)
                .partitionsToOffsetAndMetadata().get();
        long lag = 0;
        for (Map.Entry<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> end : admin.listOffsets(latest).all().get().entrySet()) {
            OffsetAndMetadata done = committed.get(end.getKey());
            lag += Math.max(0, end.getValue().offset() - (done == null ? 0 : done.offset()));
        }
        return lag;
    }

    /**
     * Sends {@code count} events through the outbox or straight to Kafka (at {@code ratePerSecond}, or as fast
     * as it goes when 0) and waits until all are posted; the rate is count over first write to last entry visible.
     */
    private Result settle(int count, int ratePerSecond) throws Exception {
        List<UsageEvent> events = servedRequests(count, new Random(count));
        long before = usageEntries();
        ProbeWatcher probes = new ProbeWatcher();
        Thread watcher = Thread.ofPlatform().name("probe-watcher").start(probes);
        long start;
        if (throughOutbox) {
            start = System.nanoTime();
            fillOutbox(events, ratePerSecond, start, probes);
        } else {
            // Encoded before the clock starts: the gateways that produce the events in production run on
            // machines of their own, and here each JSON encoding took CPU from the ledger being measured.
            String[] json = events.stream().map(UsageEventCodec::toJson).toArray(String[]::new);
            start = System.nanoTime();
            produce(events, json, ratePerSecond, start, probes);
        }
        long produced = System.nanoTime();
        awaitUsageEntries(before + count);
        long settled = System.nanoTime();
        probes.running = false;
        watcher.join();
        double seconds = (settled - start) / 1e9;
        System.out.printf(Locale.ROOT, "%,d events: %s in %.2f s, all settled after %.2f s%n", count,
                throughOutbox ? "committed to the outbox" : "produced", (produced - start) / 1e9, seconds);
        double[] latencies = probes.latenciesMs();
        return new Result(count, count / seconds, percentile(latencies, 0.50), percentile(latencies, 0.99));
    }

    /**
     * Writes the events to the outbox as gateways meter them (at {@code ratePerSecond}, or as fast as it goes
     * when 0): each transaction takes the events due so far, up to a group commit's {@value #OUTBOX_GROUP_MAX},
     * so that while one commits the next requests gather, as in the gateway's group commit.
     */
    private void fillOutbox(List<UsageEvent> events, int ratePerSecond, long start, ProbeWatcher probes) throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password)) {
            c.setAutoCommit(false);
            int next = 0;
            while (next < events.size()) {
                int due = events.size();
                if (ratePerSecond > 0) {
                    long now = System.nanoTime();
                    due = (int) Math.min(events.size(), (now - start) * ratePerSecond / 1_000_000_000L + 1);
                    if (due <= next) {
                        long dueAt = start + (long) next * 1_000_000_000L / ratePerSecond;
                        LockSupport.parkNanos(Math.max(dueAt - now, PACING_TICK_NANOS));
                        continue;
                    }
                }
                int end = Math.min(due, next + OUTBOX_GROUP_MAX);
                OneRoundTrip.run(c, List.of(new UsageOutbox.InsertEvents(events.subList(next, end))));
                c.commit();
                // The clock starts when the event is durable in the outbox, where the gateway answers the request.
                long committed = System.nanoTime();
                for (int i = next; i < end; i++) {
                    if (i % PROBE_EVERY == 0) {
                        UsageEvent e = events.get(i);
                        probes.sent(partitionOf.get(e.buyerOrgId().toString()), e.eventId(), committed);
                    }
                }
                next = end;
            }
        }
    }

    /** Produces the events straight to the topic, leaving out the outbox and its relay. */
    private void produce(List<UsageEvent> events, String[] json, int ratePerSecond, long start, ProbeWatcher probes) {
        try (UsageEvents usage = new UsageEvents(infrastructure.kafka().bootstrapServers(), PRODUCER_LINGER_MILLIS)) {
            for (int i = 0; i < events.size(); i++) {
                if (ratePerSecond > 0) {
                    long due = start + (long) i * 1_000_000_000L / ratePerSecond;
                    // Ahead of time, the producer sleeps at least a millisecond and then sends what came due:
                    // at 25,000 events/s, waking for every event (every 40 us) was itself a load on the CPU.
                    while (System.nanoTime() < due) {
                        LockSupport.parkNanos(Math.max(due - System.nanoTime(), PACING_TICK_NANOS));
                    }
                }
                UsageEvent e = events.get(i);
                String buyer = e.buyerOrgId().toString();
                // Keyed by the buyer, as UsageEvents.send and the gateway do.
                usage.sendRaw(buyer, json[i]);
                if (i % PROBE_EVERY == 0) {
                    // Sent first, then timed: the clock starts when the producer has the event.
                    probes.sent(partitionOf.get(buyer), e.eventId(), System.nanoTime());
                }
            }
            usage.flush();
        }
    }

    /** Finds probe events' entries as soon as they are committed. */
    private final class ProbeWatcher implements Runnable {
        /** Per partition, the probes not yet seen settled, oldest first (the order the partition settles in). */
        private final Map<Integer, java.util.LinkedHashMap<UUID, Long>> outstanding = new HashMap<>();
        private final Map<UUID, Integer> partitionOfProbe = new HashMap<>();
        final List<Double> found = new ArrayList<>();
        volatile boolean running = true;

        synchronized void sent(int partition, UUID id, long nanos) {
            outstanding.computeIfAbsent(partition, k -> new java.util.LinkedHashMap<>()).put(id, nanos);
            partitionOfProbe.put(id, partition);
        }

        private synchronized UUID[] oldest() {
            return outstanding.values().stream().flatMap(m -> m.keySet().stream().limit(PROBE_HEADS))
                    .toArray(UUID[]::new);
        }

        /** When the probe was sent, or null when it was already seen settled. */
        private synchronized Long settled(UUID id) {
            Integer partition = partitionOfProbe.remove(id);
            return partition == null ? null : outstanding.get(partition).remove(id);
        }

        @Override
        public void run() {
            try (Connection c = DriverManager.getConnection(jdbcUrl, user, password);
                 PreparedStatement ps = c.prepareStatement("select id from journal_entries where id = any(?)")) {
                UUID[] window = oldest();
                while (running || window.length > 0) {
                    if (window.length > 0) {
                        ps.setArray(1, c.createArrayOf("uuid", window));
                        try (ResultSet rs = ps.executeQuery()) {
                            long now = System.nanoTime();
                            while (rs.next()) {
                                Long sent = settled(rs.getObject(1, UUID.class));
                                if (sent != null) {
                                    found.add((now - sent) / 1e6);
                                }
                            }
                        }
                    }
                    LockSupport.parkNanos(PROBE_POLL_MILLIS * 1_000_000L);
                    window = oldest();
                }
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        }

        double[] latenciesMs() {
            return found.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        }
    }

    private static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    private long usageEntries() throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select count(*) from journal_entries where code = 'usage'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** The ledger after the run: balanced, and every stored balance equal to the sum of its postings. */
    private static void check(PackagedApplication app) {
        String trial = app.as(ADMIN_KEY).get("/api/ledger/trial-balance").then().statusCode(200).extract().path("difference");
        boolean consistent = app.as(ADMIN_KEY).get("/api/ledger/verification").then().statusCode(200).extract().path("consistent");
        System.out.printf("trial balance difference %s, verification consistent: %s%n", trial, consistent);
        if (!"0.00".equals(trial) || !consistent) {
            throw new IllegalStateException("the ledger does not balance after the run");
        }
    }

    /** pgbench TPC-B against the same server, in a database of its own, default durability. */
    private double pgbench(String pgbench, int seconds, int clients) throws Exception {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password); Statement s = c.createStatement()) {
            s.execute("drop database if exists pgbench");
            s.execute("create database pgbench");
        }
        Matcher url = Pattern.compile("jdbc:postgresql://([^:/]+):(\\d+)/").matcher(jdbcUrl);
        if (!url.find()) {
            throw new IllegalStateException("cannot read host and port from " + jdbcUrl);
        }
        List<String> connection = List.of("-h", url.group(1), "-p", url.group(2), "-U", user);
        exec(pgbench, connection, List.of("-i", "-q", "-s", "10", "pgbench"));
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password); Statement s = c.createStatement()) {
            // The ledger runs (and pgbench's own loading) leave dirty pages behind; flushed now, a checkpoint
            // does not slow the measured pgbench run.
            s.execute("checkpoint");
        }
        String out = exec(pgbench, connection, List.of("-c", Integer.toString(clients), "-j", Integer.toString(Math.min(clients, 2)),
                "-T", Integer.toString(seconds), "pgbench"));
        Matcher tps = TPS.matcher(out);
        if (!tps.find()) {
            throw new IllegalStateException("pgbench printed no tps:\n" + out);
        }
        return Double.parseDouble(tps.group(1));
    }

    private String exec(String program, List<String> connection, List<String> arguments) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(program);
        command.addAll(connection);
        command.addAll(arguments);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("PGPASSWORD", password);
        Process p = builder.start();
        StringBuilder out = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                out.append(line).append('\n');
            }
        }
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed:\n" + out);
        }
        return out.toString();
    }

    private static String loadAverage() {
        try {
            return Arrays.stream(Files.readString(Path.of("/proc/loadavg")).split(" ")).limit(3)
                    .reduce((a, b) -> a + " " + b).orElse("?");
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
