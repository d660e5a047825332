package dev.tokenmarket.contract;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.contract.MalformedInputs.Mutation;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.OpenApiContract;
import dev.tokenmarket.testing.OpenApiContract.Operation;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.filter.Filter;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;

import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The contract suite: every operation of {@code contracts/openapi.yaml} gets a case here (the suite fails when one
 * has none), malformed input derived from its own schemas, and every role with another organization's ids; and
 * every answer the suite receives, its setup's included, is checked against the operation's documented responses.
 */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ContractSuiteTest {

    /** What each answer to bad input must take at most. */
    private static final long ANSWER_MS_MAX = 5_000;
    private static final List<String> ROLES = List.of("admin", "buyer", "provider", "finance", "trader", "none");
    private static final Set<String> ANY = Set.of("buyer", "provider", "finance", "trader");
    private static final OpenApiContract CONTRACT = OpenApiContract.load();
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String ORDERS_OF_THEIR_OWN =
            "an order acts for the organization that placed it, and the admin's organization places none of its own";

    @Inject
    AgroalDataSource dataSource;

    /** What the validating filter found wrong with answers, asserted by every test. */
    private final List<String> contractViolations = new CopyOnWriteArrayList<>();
    private List<Filter> filtersBefore;

    // The tenant the calls come from: one organization per role. The victim: another tenant with every kind of id.
    private Org buyer;
    private Org provider;
    private Org finance;
    private Org trader;
    private Org victim;
    private final Map<String, Org> byRole = new LinkedHashMap<>();
    /** Strings only the victim's data holds: a body that shows one to another tenant leaks it. */
    private final Set<String> victimMarkers = new LinkedHashSet<>();
    private final Map<String, Case> cases = new LinkedHashMap<>();
    private String instrument;
    private String spareInstrument;

    /** How an operation's ids relate to tenants. */
    enum Scope {
        /** The caller's own data, found by its key alone. */
        OWN,
        /** The same for every caller: the market's public data. */
        PUBLIC,
        /** It names a resource by id: another tenant's id gets 403. */
        TENANT,
        /** Platform-wide (finance and admin), not a tenant's view. */
        PLATFORM
    }

    /** An operation's case: who may call it, a valid call of its own, the same call with the victim's ids. */
    static final class Case {
        final String operationId;
        Set<String> roles = Set.of();
        Scope scope = Scope.OWN;
        Org caller;
        Call call;
        Call victimCall;
        /** Roles that see every tenant's data through it by design (admin always). */
        Set<String> crossTenantRoles = Set.of();
        /** Why the operation's answers may show another tenant's ids (public market data), or null. */
        String publicData;
        /** Why the admin, too, gets 403 for the victim's ids, or null (the admin passes every role check). */
        String adminRefused;
        /** Why the valid call is not sent after the malformed ones, or null. */
        String noControl;
        /** Named exceptions: a mutation ({@code what}) and why the operation may accept it. */
        final Map<String, String> accepted = new LinkedHashMap<>();

        Case(String operationId) {
            this.operationId = operationId;
        }
    }

    /** Once, before the first test: Quarkus points RestAssured at the application only per test, not in @BeforeAll. */
    @BeforeEach
    void setUp() {
        if (buyer != null) {
            return;
        }
        filtersBefore = new ArrayList<>(RestAssured.filters());
        RestAssured.filters((request, response, context) -> {
            Response answer = context.next(request, response);
            String path = java.net.URI.create(request.getURI()).getRawPath();
            CONTRACT.match(request.getMethod(), path).ifPresentOrElse(
                    operation -> contractViolations.addAll(CONTRACT.violations(operation, answer.statusCode(),
                            answer.contentType(), answer.asString()).stream()
                            .map(v -> request.getMethod() + " " + request.getURI() + ": " + v).toList()),
                    () -> contractViolations.add(request.getMethod() + " " + path + " is no operation of the contract"));
            return answer;
        });
        buyer = Market.org("contract buyer", "buyer");
        provider = Market.org("contract provider", "provider");
        finance = Market.org("contract finance", "finance");
        trader = Market.org("contract trader", "trader");
        victim = Market.org("contract victim", "buyer", "provider", "trader");
        byRole.put("buyer", buyer);
        byRole.put("provider", provider);
        byRole.put("finance", finance);
        byRole.put("trader", trader);
        Market.funded(buyer, "100.00");
        Market.funded(trader, "1000.00");
        Market.funded(victim, "1000.00");
        buildCases();
    }

    @AfterEach
    void resumeWhatTheCasesStopped() {
        // Leaves the platform as other test classes expect it, whatever a failed run left paused or halted.
        as(ADMIN_KEY).post("/api/ledger/settlement/resume");
        as(ADMIN_KEY).post("/api/forwards/instruments/" + spareInstrument + "/resume");
    }

    @AfterAll
    void tearDown() {
        RestAssured.replaceFiltersWith(filtersBefore);
    }

    @Test
    void shouldHaveACaseForEveryOperationOfTheContract() {
        // Proves no operation of the contract escapes the suite: a new endpoint without a case fails here.
        Set<String> inContract = CONTRACT.operations().stream().map(Operation::id).collect(Collectors.toCollection(TreeSet::new));
        Set<String> missing = new TreeSet<>(inContract);
        missing.removeAll(cases.keySet());
        Set<String> stale = new TreeSet<>(cases.keySet());
        stale.removeAll(inContract);
        assertTrue(missing.isEmpty(), "operations of contracts/openapi.yaml without a case in ContractSuiteTest: " + missing);
        assertTrue(stale.isEmpty(), "cases for operations the contract no longer has: " + stale);
        assertNoContractViolations();
    }

    @Test
    void shouldRefuseMalformedInputToEveryOperationAtOnceInItsShapeAndChangeNothing() {
        // Proves each operation answers every malformed variant of a valid call of its own with a 4xx in its path's
        // error shape naming the field, within 5 s, that balances, holds, endpoints, keys, limits and orders read
        // the same afterwards, and that the valid call itself then succeeds (so each variant differed by its fault).
        MalformedInputs generator = new MalformedInputs(CONTRACT);
        List<String> failures = new ArrayList<>();
        int tried = 0;
        // One reading before every malformed call and one after them all: a change anywhere between fails the test,
        // and the calls that were not refused (listed below) say which operation made it.
        Map<String, Object> before = snapshot();
        for (Operation operation : CONTRACT.operations()) {
            Case c = cases.get(operation.id());
            if (c == null) {
                continue;
            }
            String key = c.caller == null ? ADMIN_KEY : c.caller.key();
            List<Mutation> mutations = generator.of(operation, c.call);
            for (String exception : c.accepted.keySet()) {
                if (mutations.stream().noneMatch(m -> m.what().equals(exception))) {
                    failures.add(operation.id() + ": the named exception '" + exception + "' matches no variant any more");
                }
            }
            for (Mutation mutation : mutations) {
                if (c.accepted.containsKey(mutation.what())) {
                    continue;
                }
                tried++;
                long started = System.nanoTime();
                Call.Answer answer = send(operation, mutation.call(), key);
                long tookMs = (System.nanoTime() - started) / 1_000_000;
                String problem = refusal(operation, mutation, answer, tookMs);
                if (problem != null) {
                    failures.add(operation.id() + " / " + mutation.what() + ": " + problem + "\n    " + mutation.call());
                }
            }
        }
        Map<String, Object> after = snapshot();
        if (!before.equals(after)) {
            failures.add("malformed calls changed state: " + difference(before, after));
        }
        for (Operation operation : CONTRACT.operations()) {
            Case c = cases.get(operation.id());
            if (c != null && c.noControl == null) {
                Call.Answer answer = send(operation, c.call, c.caller == null ? ADMIN_KEY : c.caller.key());
                if (answer.status() / 100 != 2) {
                    failures.add(operation.id() + ": the valid call itself got " + answer.status() + " " + answer.body()
                            + "\n    " + c.call);
                }
            }
        }
        assertTrue(tried > 500, "variants tried: " + tried);
        assertTrue(failures.isEmpty(), failures.size() + " of " + tried + " malformed calls were not refused as the contract says:\n"
                + String.join("\n", failures));
        assertNoContractViolations();
    }

    @Test
    void shouldRefuseEveryRoleAnotherTenantsIdsAndShowNoneOfItsData() {
        // Proves every role (and no key) gets 401 without a key, 403 without the role or for another organization's
        // ids, and never a body with the other organization's ids, names or secrets; the other organization's data
        // reads the same afterwards (the admin pass, which may touch it by design, runs last).
        List<String> failures = new ArrayList<>();
        Map<String, Object> victimBefore = orgSnapshot(victim);
        for (String role : ROLES) {
            if (role.equals("admin")) {
                continue;
            }
            for (Operation operation : CONTRACT.operations()) {
                Case c = cases.get(operation.id());
                if (c != null) {
                    isolation(operation, c, role, failures);
                }
            }
        }
        Map<String, Object> victimAfter = orgSnapshot(victim);
        if (!victimBefore.equals(victimAfter)) {
            failures.add("other tenants' calls changed the victim's data: " + difference(victimBefore, victimAfter));
        }
        for (Operation operation : CONTRACT.operations()) {
            Case c = cases.get(operation.id());
            if (c != null) {
                isolation(operation, c, "admin", failures);
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " isolation failures:\n" + String.join("\n", failures));
        assertNoContractViolations();
    }

    // ---------------------------------------------------------------- checks

    /** What is wrong with the answer to a malformed call, or null when it is the refusal the contract documents. */
    private String refusal(Operation operation, Mutation mutation, Call.Answer answer, long tookMs) {
        if (tookMs > ANSWER_MS_MAX) {
            return "took " + tookMs + " ms";
        }
        int status = answer.status();
        if (!mutation.statuses().contains(status)) {
            return "status " + status + " (expected " + mutation.statuses() + "): " + abbreviate(answer.body());
        }
        JsonNode body = json(answer.body());
        String field;
        if (operation.isV1()) {
            JsonNode error = body.path("error");
            if (!error.path("code").isTextual() || !error.path("type").isTextual() || !error.path("message").isTextual()) {
                return "not the OpenAI error shape: " + abbreviate(answer.body());
            }
            field = error.path("param").textValue();
        } else {
            if (!String.valueOf(answer.contentType()).startsWith("application/problem+json")) {
                return "content type " + answer.contentType() + ", not problem+json: " + abbreviate(answer.body());
            }
            if (!body.path("code").isTextual() || body.path("status").asInt() != status) {
                return "not problem details with a code: " + abbreviate(answer.body());
            }
            field = body.path("field").textValue();
        }
        if (mutation.field() != null && !names(field, mutation.field())) {
            return "names field '" + field + "', expected '" + mutation.field() + "': " + abbreviate(answer.body());
        }
        return null;
    }

    /** Sends the call and checks its answer against the operation's documented responses, as the filter does RestAssured's. */
    private Call.Answer send(Operation operation, Call call, String key) {
        Call.Answer answer = call.send(key);
        contractViolations.addAll(CONTRACT.violations(operation, answer.status(), answer.contentType(), answer.body()).stream()
                .map(v -> call + ": " + v).toList());
        return answer;
    }

    /** Whether the answer's field names the one at fault, or the part of it at fault (an element or a member). */
    private static boolean names(String answered, String expected) {
        return answered != null && (answered.equals(expected) || answered.startsWith(expected + ".")
                || answered.startsWith(expected + "["));
    }

    private void isolation(Operation operation, Case c, String role, List<String> failures) {
        boolean allowed = role.equals("admin") || c.roles.contains(role);
        boolean tenantIds = c.scope == Scope.TENANT && !c.crossTenantRoles.contains(role);
        // Without tenant ids, each role makes the case's own call: it may see only what is its own or public.
        Call call = c.scope == Scope.TENANT ? c.victimCall : c.call;
        String key = switch (role) {
            case "none" -> null;
            case "admin" -> ADMIN_KEY;
            default -> byRole.get(role).key();
        };
        Call.Answer answer = send(operation, call, key);
        int status = answer.status();
        String what = operation.id() + " as " + role + ": ";
        String body = answer.body();
        if (role.equals("none")) {
            if (status != 401 || !body.contains("invalid_api_key")) {
                failures.add(what + "expected 401 invalid_api_key, got " + status + " " + abbreviate(body) + "\n    " + call);
            }
            return;
        }
        boolean adminRefused = role.equals("admin") && c.adminRefused != null;
        if (!allowed || (tenantIds && !role.equals("admin")) || adminRefused) {
            if (status != 403 || !body.contains("forbidden")) {
                failures.add(what + "expected 403 forbidden" + (adminRefused ? " (" + c.adminRefused + ")" : "") + ", got " + status + " " + abbreviate(body) + "\n    " + call);
            }
        } else if (status == 401 || status == 403 || status >= 500) {
            failures.add(what + "a role the operation allows got " + status + " " + abbreviate(body) + "\n    " + call);
        }
        if (!role.equals("admin") && !c.crossTenantRoles.contains(role) && c.publicData == null) {
            for (String marker : victimMarkers) {
                // An id the caller sent may come back in the refusal: that shows it nothing it did not have.
                boolean sent = call.uri().contains(marker) || (call.body() != null && call.body().contains(marker));
                if (!sent && body.contains(marker)) {
                    failures.add(what + "the answer shows the victim's '" + marker + "': " + abbreviate(body));
                }
            }
        }
    }

    private void assertNoContractViolations() {
        List<String> found = List.copyOf(contractViolations);
        assertTrue(found.isEmpty(), found.size() + " answers disagree with contracts/openapi.yaml:\n"
                + found.stream().distinct().limit(200).collect(Collectors.joining("\n")));
    }

    // ---------------------------------------------------------------- state read before and after

    /**
     * Balances and holds of every organization of the suite, their endpoints, keys (with limits) and forward
     * orders, read through the API; plus, from their owners' tables, every organization, key, limit, endpoint,
     * price and product, and how many journal entries and holds there are.
     */
    private Map<String, Object> snapshot() {
        Map<String, Object> state = new LinkedHashMap<>();
        for (Org org : List.of(buyer, provider, finance, trader, victim)) {
            state.putAll(orgSnapshot(org));
        }
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
            for (String table : List.of("organizations", "api_keys", "api_key_limits", "endpoints", "endpoint_prices",
                    "forward_products", "ledger_accounts")) {
                try (ResultSet rows = statement.executeQuery("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                        + " FROM " + table + " t")) {
                    rows.next();
                    state.put("table " + table, rows.getString(1));
                }
            }
            for (String table : List.of("journal_entries", "holds", "forward_orders")) {
                try (ResultSet rows = statement.executeQuery("SELECT count(*) FROM " + table)) {
                    rows.next();
                    state.put("rows of " + table, rows.getLong(1));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return state;
    }

    private Map<String, Object> orgSnapshot(Org org) {
        Map<String, Object> state = new LinkedHashMap<>();
        String name = org == victim ? "victim" : org == buyer ? "buyer" : org == provider ? "provider" : org == finance ? "finance" : "trader";
        if (org != finance && org != trader) {
            state.put(name + " balance", as(org.key()).get("/api/balance").asString());
        }
        // Reading with a key records its use: when it was last used is not something a malformed call may change, but reads do.
        state.put(name + " keys", as(org.key()).get("/api/keys").asString().replaceAll("\"last_used_at\":(null|\"[^\"]*\")", ""));
        if (org == provider || org == victim) {
            state.put(name + " endpoints", as(org.key()).get("/api/endpoints").asString());
        }
        if (org == trader || org == victim) {
            state.put(name + " orders", as(org.key()).get("/api/forwards/orders").asString());
        }
        return state;
    }

    private static String difference(Map<String, Object> before, Map<String, Object> after) {
        List<String> changed = new ArrayList<>();
        for (String key : before.keySet()) {
            if (!before.get(key).equals(after.get(key))) {
                changed.add(key + ": " + abbreviate(String.valueOf(before.get(key))) + " -> " + abbreviate(String.valueOf(after.get(key))));
            }
        }
        return String.join("; ", changed);
    }

    // ---------------------------------------------------------------- the cases

    private void buildCases() {
        String today = LocalDate.now(ZoneOffset.UTC).toString();
        String weekAgo = LocalDate.now(ZoneOffset.UTC).minusDays(7).toString();
        String hourAgo = java.time.Instant.now().truncatedTo(ChronoUnit.HOURS).minus(1, ChronoUnit.HOURS).toString();
        String now = java.time.Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();

        // Resources of the calling tenant.
        String endpoint = Market.endpoint(provider, "100.00", "100.00");
        String spareEndpoint = Market.endpoint(provider, "100.00", "100.00");
        String generation = as(buyer.key()).body(Market.completion(endpoint, 2)).post("/v1/completions").then()
                .statusCode(200).extract().path("id");
        Market.awaitSettled(buyer);
        String spareKeyToRevoke = ownKey(buyer, "to revoke");
        String spareKeyToRotate = ownKey(buyer, "to rotate");
        String spareKeyForLimits = ownKey(buyer, "for limits");
        String buyerAccount = account(buyer, "buyer_wallet");
        Org reversed = Market.org("contract reversal", "buyer");
        String entryToReverse = Market.deposit(reversed, "1.00", UUID.randomUUID().toString()).then().statusCode(201)
                .extract().path("entry_id");
        String entry = Market.deposit(buyer, "1.00", UUID.randomUUID().toString()).then().statusCode(201).extract().path("entry_id");
        String product = product();
        instrument = hourlyInstrument(product, 24);
        spareInstrument = hourlyInstrument(product, 25);
        String order = order(trader, instrument);
        String orderToCancel = order(trader, instrument);

        // Resources of the victim, another tenant.
        String victimEndpoint = Market.endpoint(victim, "100.00", "100.00");
        String victimEndpointToDeactivate = Market.endpoint(victim, "100.00", "100.00");
        String victimGeneration = as(victim.key()).body(Market.completion(victimEndpoint, 2)).post("/v1/completions").then()
                .statusCode(200).extract().path("id");
        Market.awaitSettled(victim);
        String victimKeyToRevoke = ownKey(victim, "victim to revoke");
        String victimKeyToRotate = ownKey(victim, "victim to rotate");
        String victimAccount = account(victim, "buyer_wallet");
        String victimReference = "victim deposit " + UUID.randomUUID();
        String victimEntry = as(ADMIN_KEY).header("Idempotency-Key", UUID.randomUUID().toString())
                .body(Map.of("org_id", victim.id(), "amount", "1.00", "reference", victimReference))
                .post("/api/ledger/deposits").then().statusCode(201).extract().path("entry_id");
        String victimOrderClientId = "victim-" + UUID.randomUUID();
        String victimOrder = as(victim.key()).body(orderBody(instrument, victimOrderClientId)).post("/api/forwards/orders")
                .then().statusCode(201).extract().path("id");
        String victimOrderToCancelClientId = "victim-" + UUID.randomUUID();
        String victimOrderToCancel = as(victim.key()).body(orderBody(instrument, victimOrderToCancelClientId))
                .post("/api/forwards/orders").then().statusCode(201).extract().path("id");
        victimMarkers.addAll(List.of(victim.id(), victim.keyId(), victim.key().substring(0, 12), victimKeyToRevoke,
                victimKeyToRotate, victimEndpoint, victimEndpointToDeactivate, victimGeneration, victimReference, victimEntry,
                victimOrderClientId, victimOrderToCancelClientId));

        // Organizations and keys.
        add(c("createOrganization").platform().admin()
                .call(post("/api/orgs", Map.of("name", "contract org", "roles", List.of("buyer")))));
        add(c("createApiKey").tenant(ANY).caller(buyer)
                .call(post("/api/orgs/{orgId}/keys", Map.of("name", "contract key")).withPath("orgId", buyer.id()))
                .victim("orgId", victim.id()));
        add(c("listOrganizationApiKeys").tenant(ANY).caller(buyer)
                .call(get("/api/orgs/{orgId}/keys").withPath("orgId", buyer.id()).withQuery("limit", "10"))
                .victim("orgId", victim.id()));
        add(c("listApiKeys").own(ANY).caller(buyer).call(get("/api/keys").withQuery("limit", "10")));
        add(c("createOwnApiKey").own(ANY).caller(buyer).call(post("/api/keys", Map.of("name", "contract own key",
                "label", "contract", "expires_at", "2030-01-01T00:00:00Z"))));
        add(c("getApiKey").tenant(ANY).caller(buyer).call(get("/api/keys/{keyId}").withPath("keyId", buyer.keyId()))
                .victim("keyId", victim.keyId()));
        add(c("revokeApiKey").tenant(ANY).caller(buyer).call(delete("/api/keys/{keyId}").withPath("keyId", spareKeyToRevoke))
                .victim("keyId", victimKeyToRevoke));
        add(c("rotateApiKey").tenant(ANY).caller(buyer)
                .call(post("/api/keys/{keyId}/rotate", Map.of("grace_seconds", 60)).withPath("keyId", spareKeyToRotate))
                .victim("keyId", victimKeyToRotate));
        add(c("getKeyLimits").tenant(ANY).caller(buyer).call(get("/api/keys/{keyId}/limits").withPath("keyId", buyer.keyId()))
                .victim("keyId", victim.keyId()));
        add(c("setKeyLimits").tenant(ANY).caller(buyer)
                .call(put("/api/keys/{keyId}/limits", Map.of("requests_per_minute", 1000, "tokens_per_minute", 1_000_000,
                        "spend_limit", "100.00", "spend_limit_reset", "monthly")).withPath("keyId", spareKeyForLimits))
                .victim("keyId", victim.keyId()));
        add(c("getKeyUsage").tenant(ANY).caller(buyer).call(get("/api/keys/{keyId}/usage").withPath("keyId", buyer.keyId())
                .withQuery("from", weekAgo).withQuery("to", today)).victim("keyId", victim.keyId()));

        // Endpoints.
        // An OpenAI-compatible backend, whose url, key and model are all read (a reference backend ignores them). Its
        // model is the suite's own, so that no request of another test is routed to it; nothing listens at its url.
        Map<String, Object> endpointBody = Map.of("model", "contract-upstream-" + UUID.randomUUID(), "hardware", "contract gpu",
                "hardware_class", "gpu", "region", "local", "pricing", Map.of("prompt", "100.00", "completion", "100.00"),
                "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", 8),
                "backend", Map.of("type", "openai", "url", "http://127.0.0.1:9/v1", "api_key", "sk-contract", "model", "upstream-model"),
                "supported_parameters", List.of("temperature", "seed"));
        String pacing = "max_tokens_per_second paces a reference backend only, and is not read for the OpenAI-compatible one";
        add(c("createEndpoint").own("provider").caller(provider).call(post("/api/endpoints", endpointBody))
                .accepts("backend.max_tokens_per_second below its minimum", pacing)
                .accepts("backend.max_tokens_per_second above its maximum", pacing));
        add(c("listOwnEndpoints").own("provider").caller(provider).call(get("/api/endpoints")));
        add(c("getEndpoint").tenant("provider").caller(provider).call(get("/api/endpoints/{id}").withPath("id", endpoint))
                .victim("id", victimEndpoint));
        add(c("updateEndpoint").tenant("provider").caller(provider)
                .call(patch("/api/endpoints/{id}", Map.of("pricing", Map.of("prompt", "100.00", "completion", "100.00"),
                        "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                        "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", 8), "status", "active"))
                        .withPath("id", endpoint))
                .victim("id", victimEndpoint));
        add(c("deactivateEndpoint").tenant("provider").caller(provider).call(delete("/api/endpoints/{id}").withPath("id", spareEndpoint))
                .victim("id", victimEndpointToDeactivate));
        add(c("getEndpointSpeed").tenant("provider").caller(provider).call(get("/api/endpoints/{id}/speed").withPath("id", endpoint)
                .withQuery("bucket", "hour").withQuery("from", hourAgo).withQuery("to", now)).victim("id", victimEndpoint));

        // Completions and models.
        Map<String, Object> routing = Map.of("only", List.of(endpoint), "sort", "price", "allow_fallbacks", false,
                "max_price", Map.of("prompt", "1000", "completion", "1000"));
        add(c("createChatCompletion").own("buyer").caller(buyer).call(post("/v1/chat/completions", Map.of("model", Market.MODEL,
                "messages", List.of(Map.of("role", "user", "content", "Tim")), "max_tokens", 2, "temperature", 0,
                "provider", routing))));
        add(c("createCompletion").own("buyer").caller(buyer).call(post("/v1/completions", Map.of("model", Market.MODEL,
                "prompt", "Tim", "max_tokens", 2, "temperature", 0, "provider", routing))));
        add(c("listModels").publicData(ANY, "the models on offer are the same for every key").caller(buyer).call(get("/v1/models")));
        add(c("listModelEndpoints").publicData(ANY, "the market shows every provider's active endpoints to every key")
                .caller(buyer).call(get("/v1/models/{model}/endpoints").withPath("model", Market.MODEL)));
        add(c("getGeneration").tenant("buyer").caller(buyer).call(get("/v1/generation").withQuery("id", generation))
                .victimCall(get("/v1/generation").withQuery("id", victimGeneration)));

        // Usage and balances.
        add(c("getDailyUsage").own("buyer").caller(buyer).call(get("/api/usage/daily").withQuery("from", weekAgo).withQuery("to", today)));
        add(c("getDailyServed").own("provider").caller(provider)
                .call(get("/api/usage/served/daily").withQuery("from", weekAgo).withQuery("to", today)));
        add(c("getBalance").own("buyer", "provider", "trader").caller(buyer).call(get("/api/balance")));

        // Ledger.
        add(c("createDeposit").platform("finance").caller(finance).call(post("/api/ledger/deposits",
                Map.of("org_id", buyer.id(), "amount", "1.00", "reference", "contract deposit")).withHeader("Idempotency-Key", Call.FRESH)));
        add(c("createPayout").platform("finance").caller(finance).call(post("/api/ledger/payouts",
                Map.of("org_id", provider.id(), "amount", "0.000001", "reference", "contract payout")).withHeader("Idempotency-Key", Call.FRESH)));
        add(c("getTrialBalance").platform("finance").caller(finance).call(get("/api/ledger/trial-balance")));
        add(c("verifyLedger").platform("finance").caller(finance).call(get("/api/ledger/verification")));
        add(c("getSettlementSwitch").platform("finance").caller(finance).call(get("/api/ledger/settlement")));
        add(c("pauseSettlement").platform().admin().call(post("/api/ledger/settlement/pause", Map.of("reason", "contract suite"))));
        add(c("resumeSettlement").platform().admin().call(post("/api/ledger/settlement/resume")));
        add(c("listLedgerAccounts").platform("finance").caller(finance).call(get("/api/ledger/accounts").withQuery("org_id", buyer.id())));
        add(c("getAccountStatement").tenant("finance", "buyer", "provider").crossTenant("finance").caller(buyer)
                .call(get("/api/ledger/accounts/{id}/statement").withPath("id", buyerAccount).withQuery("from", weekAgo)
                        .withQuery("to", today))
                .victim("id", victimAccount));
        add(c("getEarnings").own("provider").caller(provider).call(get("/api/ledger/earnings").withQuery("from", weekAgo).withQuery("to", today)));
        add(c("getReconciliation").platform("finance").caller(finance)
                .call(get("/api/ledger/reconciliation").withQuery("from", weekAgo).withQuery("to", today)));
        add(c("getJournalEntry").platform("finance").caller(finance).call(get("/api/ledger/entries/{id}").withPath("id", entry)));
        add(c("reverseJournalEntry").platform("finance").caller(finance)
                .call(post("/api/ledger/entries/{id}/reversal", Map.of("reason", "contract reversal")).withPath("id", entryToReverse)));
        add(c("setCreditLimit").platform("finance").caller(finance)
                .call(put("/api/ledger/credit-limits/{orgId}", Map.of("credit_limit", "0")).withPath("orgId", buyer.id())));

        // Forwards.
        add(c("getSpotIndex").publicData(ANY, "the spot index is the market's public price").caller(trader)
                .call(get("/api/forwards/index/{model}").withPath("model", Market.MODEL).withQuery("from", hourAgo).withQuery("to", now)));
        add(c("recomputeSpotIndex").platform("finance").caller(finance)
                .call(get("/api/forwards/index/{model}/recomputation").withPath("model", Market.MODEL).withQuery("hour", hourAgo))
                .noControl("no hour of the test model is published (the index publisher is off in tests), so the valid call is a 404"));
        add(c("listForwardProduct").platform().admin().call(post("/api/forwards/products", productBody("fwd" + UUID.randomUUID()
                .toString().substring(0, 8)))));
        Set<String> market = Set.of("trader", "provider", "buyer", "finance");
        add(c("getForwardProducts").publicData(market, "products are the market's public listing").caller(trader)
                .call(get("/api/forwards/products")));
        add(c("getForwardInstruments").publicData(market, "instruments are the market's public listing").caller(trader)
                .call(get("/api/forwards/instruments").withQuery("product", product).withQuery("state", "trading")));
        add(c("getForwardInstrument").publicData(market, "instruments are the market's public listing").caller(trader)
                .call(get("/api/forwards/instruments/{symbol}").withPath("symbol", instrument)));
        add(c("haltForwardInstrument").platform().admin()
                .call(post("/api/forwards/instruments/{symbol}/halt").withPath("symbol", spareInstrument)));
        add(c("resumeForwardInstrument").platform().admin()
                .call(post("/api/forwards/instruments/{symbol}/resume").withPath("symbol", spareInstrument)));
        add(c("getForwardBook").publicData(market, "the book shows price levels, no organization").caller(trader)
                .call(get("/api/forwards/instruments/{symbol}/book").withPath("symbol", instrument).withQuery("depth", "5")));
        add(c("getForwardTrades").publicData(market, "trades are the market's public tape, without organizations").caller(trader)
                .call(get("/api/forwards/instruments/{symbol}/trades").withPath("symbol", instrument).withQuery("limit", "5")));
        Set<String> trading = Set.of("trader", "provider", "buyer");
        add(c("placeForwardOrder").own(trading).caller(trader).call(post("/api/forwards/orders", orderBody(instrument, null))));
        add(c("getForwardOrders").own(trading).caller(trader).call(get("/api/forwards/orders").withQuery("instrument", instrument)
                .withQuery("status", "open").withQuery("limit", "10")));
        add(c("cancelAllForwardOrders").own(trading).caller(trader)
                .call(delete("/api/forwards/orders").withQuery("instrument", spareInstrument)));
        add(c("getForwardOrder").tenant(trading).adminRefused(ORDERS_OF_THEIR_OWN).caller(trader).call(get("/api/forwards/orders/{id}").withPath("id", order))
                .victim("id", victimOrder));
        add(c("amendForwardOrder").tenant(trading).adminRefused(ORDERS_OF_THEIR_OWN).caller(trader)
                .call(patch("/api/forwards/orders/{id}", Map.of("price", "0.05", "quantity", 1)).withPath("id", order))
                .victim("id", victimOrder));
        add(c("cancelForwardOrder").tenant(trading).adminRefused(ORDERS_OF_THEIR_OWN).caller(trader).call(delete("/api/forwards/orders/{id}").withPath("id", orderToCancel))
                .victim("id", victimOrderToCancel));
        add(c("getForwardFills").own(trading).caller(trader).call(get("/api/forwards/fills").withQuery("instrument", instrument)
                .withQuery("limit", "10")));
        add(c("getForwardPositions").own(trading).caller(trader).call(get("/api/forwards/positions")));
    }

    // ---------------------------------------------------------------- setup helpers

    private String ownKey(Org org, String name) {
        return as(org.key()).body(Map.of("name", name)).post("/api/keys").then().statusCode(201).extract().path("id");
    }

    private static String account(Org org, String kind) {
        List<Map<String, Object>> accounts = as(ADMIN_KEY).queryParam("org_id", org.id()).get("/api/ledger/accounts")
                .then().statusCode(200).extract().jsonPath().getList("accounts");
        return accounts.stream().filter(a -> kind.equals(a.get("kind"))).findFirst().map(a -> String.valueOf(a.get("id")))
                .orElseThrow(() -> new AssertionError("no " + kind + " account of " + org.id() + ": " + accounts));
    }

    private static Map<String, Object> productBody(String code) {
        return Map.of("code", code, "model", Market.MODEL, "tick", "0.01", "lot", 1,
                "price_band", Map.of("min", "0.01", "max", "1000.00"), "maker_fee_bps", 10, "taker_fee_bps", 20,
                "weights", Map.of("completion", "3"));
    }

    private static String product() {
        String code = "fwd" + UUID.randomUUID().toString().substring(0, 8);
        as(ADMIN_KEY).body(productBody(code)).post("/api/forwards/products").then().statusCode(201);
        return code;
    }

    private static String hourlyInstrument(String product, int index) {
        List<Map<String, Object>> listed = as(ADMIN_KEY).queryParam("product", product).queryParam("state", "trading")
                .get("/api/forwards/instruments").then().statusCode(200).extract().jsonPath().getList("data");
        return (String) listed.stream().filter(i -> "hour".equals(i.get("window"))).toList().get(index).get("symbol");
    }

    /** A resting buy at the band's floor: it never meets another order of the suite. */
    private static Map<String, Object> orderBody(String instrument, String clientOrderId) {
        Map<String, Object> body = new LinkedHashMap<>(Map.of("instrument", instrument, "side", "buy", "quantity", 1,
                "price", "0.01", "time_in_force", "gtc", "post_only", true, "reduce_only", false,
                "self_trade_prevention", "cancel_incoming"));
        if (clientOrderId != null) {
            body.put("client_order_id", clientOrderId);
        }
        return body;
    }

    private static String order(Org org, String instrument) {
        return as(org.key()).body(orderBody(instrument, UUID.randomUUID().toString())).post("/api/forwards/orders")
                .then().statusCode(201).extract().path("id");
    }

    // ---------------------------------------------------------------- case builders

    private void add(CaseBuilder builder) {
        Case c = builder.c;
        if (c.call == null) {
            throw new IllegalStateException(c.operationId + " has no call");
        }
        Operation operation = CONTRACT.operation(c.operationId);
        assertEquals(operation.method() + " " + operation.path(), c.call.method() + " " + c.call.pathTemplate(),
                c.operationId + "'s call is not to its operation");
        if (c.scope == Scope.TENANT && c.victimCall == null) {
            throw new IllegalStateException(c.operationId + " names ids but has no call with the victim's");
        }
        cases.put(c.operationId, c);
    }

    private static CaseBuilder c(String operationId) {
        return new CaseBuilder(new Case(operationId));
    }

    private record CaseBuilder(Case c) {
        CaseBuilder own(String... roles) {
            return own(Set.of(roles));
        }

        CaseBuilder own(Set<String> roles) {
            c.roles = roles;
            c.scope = Scope.OWN;
            return this;
        }

        CaseBuilder tenant(String... roles) {
            return tenant(Set.of(roles));
        }

        CaseBuilder tenant(Set<String> roles) {
            c.roles = roles;
            c.scope = Scope.TENANT;
            return this;
        }

        CaseBuilder platform(String... roles) {
            c.roles = Set.of(roles);
            c.scope = Scope.PLATFORM;
            c.crossTenantRoles = Set.of(roles);
            return this;
        }

        CaseBuilder publicData(Set<String> roles, String why) {
            c.roles = roles;
            c.scope = Scope.PUBLIC;
            c.publicData = why;
            return this;
        }

        CaseBuilder crossTenant(String... roles) {
            c.crossTenantRoles = Set.of(roles);
            return this;
        }

        CaseBuilder admin() {
            c.caller = null;
            return this;
        }

        CaseBuilder caller(Org org) {
            c.caller = org;
            return this;
        }

        CaseBuilder call(Call call) {
            c.call = call;
            return this;
        }

        CaseBuilder victim(String pathParameter, String victimId) {
            c.victimCall = c.call.withPath(pathParameter, victimId);
            return this;
        }

        CaseBuilder victimCall(Call call) {
            c.victimCall = call;
            return this;
        }

        CaseBuilder adminRefused(String why) {
            c.adminRefused = why;
            return this;
        }

        CaseBuilder noControl(String why) {
            c.noControl = why;
            return this;
        }

        CaseBuilder accepts(String mutation, String why) {
            c.accepted.put(mutation, why);
            return this;
        }
    }

    private static Call get(String path) {
        return new Call("GET", path, Map.of(), Map.of(), Map.of(), null, null);
    }

    private static Call delete(String path) {
        return new Call("DELETE", path, Map.of(), Map.of(), Map.of(), null, null);
    }

    private static Call post(String path) {
        return new Call("POST", path, Map.of(), Map.of(), Map.of(), null, null);
    }

    private static Call post(String path, Object body) {
        return new Call("POST", path, Map.of(), Map.of(), Map.of(), Call.JSON, OpenApiContract.tree(body).toString());
    }

    private static Call put(String path, Object body) {
        return new Call("PUT", path, Map.of(), Map.of(), Map.of(), Call.JSON, OpenApiContract.tree(body).toString());
    }

    private static Call patch(String path, Object body) {
        return new Call("PATCH", path, Map.of(), Map.of(), Map.of(), Call.JSON, OpenApiContract.tree(body).toString());
    }

    private static JsonNode json(String text) {
        try {
            return MAPPER.readTree(text);
        } catch (java.io.IOException e) {
            return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
        }
    }

    private static String abbreviate(String text) {
        return text.length() <= 400 ? text : text.substring(0, 400) + "…";
    }
}
