package dev.tokenmarket;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The application's code is split into bounded contexts, one package each under {@code dev.tokenmarket}:
 * catalog, console, forwards, gateway, identity, inference, ledger, metering, platform and routing. This test reads
 * the compiled main classes (and, for SQL, the main sources) and holds them to four rules:
 * <ol>
 *   <li>Every class belongs to one of those contexts.</li>
 *   <li>No import cycles between contexts: the contexts form a layered graph, so any one can be read, and
 *       changed, knowing only those below it.</li>
 *   <li>A context uses another only through its public surface. <b>The surface of a context is the public
 *       types of its root package</b> ({@code dev.tokenmarket.ledger.Ledger}, {@code dev.tokenmarket.metering.UsageEvent}):
 *       its services, the records and enums they take and answer, the interfaces it asks others to
 *       implement. Its subpackages ({@code forwards.index}, {@code gateway.bench}, ...) and everything not
 *       public are internals. Platform is the shared kernel (errors, money, ids, settings, the one-round-trip
 *       SQL helper): every public type in it, in any of its packages, is surface, and in return platform uses
 *       no other context at all.</li>
 *   <li>Each table belongs to one context, and only its owner's code names it in SQL; the others ask the
 *       owner through its Java surface. Every table and view the migrations create must have an owner here.</li>
 * </ol>
 * There is no allow-list: a change that breaks a rule changes the code, or, for a new table, says who owns it.
 */
class ArchitectureTest {

    private static final String ROOT = "dev.tokenmarket";
    private static final Set<String> CONTEXTS = Set.of("catalog", "console", "forwards", "gateway", "identity",
            "inference", "ledger", "metering", "platform", "routing");
    private static final String KERNEL = "platform";

    /** Who owns each table, view and SQL function the application's code names. */
    private static final Map<String, String> OWNERS = Map.ofEntries(
            Map.entry("organizations", "identity"),
            Map.entry("api_keys", "identity"),
            Map.entry("endpoints", "catalog"),
            Map.entry("endpoint_prices", "catalog"),
            Map.entry("api_key_limits", "gateway"),
            Map.entry("api_key_usage_windows", "gateway"),
            Map.entry("generations", "metering"),
            Map.entry("usage_outbox", "metering"),
            Map.entry("usage_dead_letters", "metering"),
            Map.entry("ledger_accounts", "ledger"),
            Map.entry("journal_entries", "ledger"),
            Map.entry("postings", "ledger"),
            Map.entry("holds", "ledger"),
            Map.entry("hold_captures", "ledger"),
            Map.entry("hold_capture_parts", "ledger"),
            Map.entry("hold_states", "ledger"),
            Map.entry("place_holds", "ledger"),
            Map.entry("ledger_settlement_control", "ledger"),
            Map.entry("capacity_leases", "routing"),
            Map.entry("capacity_minutes", "routing"),
            Map.entry("forward_index_values", "forwards"),
            Map.entry("forward_products", "forwards"),
            Map.entry("forward_instruments", "forwards"),
            Map.entry("forward_members", "forwards"),
            Map.entry("forward_leases", "forwards"),
            Map.entry("forward_journal", "forwards"),
            Map.entry("forward_orders", "forwards"),
            Map.entry("forward_trades", "forwards"));

    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages(ROOT);
    }

    private static String contextOf(String packageName) {
        if (!packageName.startsWith(ROOT + ".")) {
            return null;
        }
        String rest = packageName.substring(ROOT.length() + 1);
        int dot = rest.indexOf('.');
        return dot < 0 ? rest : rest.substring(0, dot);
    }

    @Test
    void everyClassBelongsToAContext() {
        Set<String> outside = new TreeSet<>();
        for (JavaClass c : classes) {
            if (!CONTEXTS.contains(contextOf(c.getPackageName()))) {
                outside.add(c.getName());
            }
        }
        assertEquals(Set.of(), outside, "classes outside the contexts " + new TreeSet<>(CONTEXTS));
    }

    @Test
    void contextsHaveNoImportCycles() {
        slices().matching(ROOT + ".(*)..").namingSlices("context $1").should().beFreeOfCycles().check(classes);
    }

    @Test
    void contextsUseOneAnotherOnlyThroughTheirSurface() {
        Set<String> violations = new TreeSet<>();
        for (JavaClass origin : classes) {
            String from = contextOf(origin.getPackageName());
            for (Dependency d : origin.getDirectDependenciesFromSelf()) {
                JavaClass target = d.getTargetClass().getBaseComponentType();
                String to = contextOf(target.getPackageName());
                if (to == null || to.equals(from)) {
                    continue;
                }
                if (KERNEL.equals(from)) {
                    violations.add(origin.getName() + " (platform, the kernel) uses " + target.getName());
                } else if (!target.getModifiers().contains(com.tngtech.archunit.core.domain.JavaModifier.PUBLIC)) {
                    violations.add(origin.getName() + " uses " + target.getName() + ", which is not public");
                } else if (!KERNEL.equals(to) && !target.getPackageName().equals(ROOT + "." + to)) {
                    violations.add(origin.getName() + " uses " + target.getName() + ", inside " + to
                            + "'s subpackage " + target.getPackageName());
                }
            }
        }
        assertEquals(Set.of(), violations, "uses of another context's internals");
    }

    /** SQL naming a relation: the word before it says it is read, written or defined. */
    private static final Pattern SQL_RELATION = Pattern.compile(
            "\\b(?:from|join|into|update|table|exists|truncate)\\s+([a-z_][a-z0-9_]*)", Pattern.CASE_INSENSITIVE);
    private static final Pattern COMMENT = Pattern.compile("/\\*.*?\\*/|^\\s*//[^\\n]*", Pattern.DOTALL | Pattern.MULTILINE);

    @Test
    void onlyATablesOwnerNamesItInSql() throws IOException {
        Set<String> violations = new TreeSet<>();
        Path sources = Path.of("src/main/java", ROOT.split("\\."));
        try (Stream<Path> files = Files.walk(sources)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                String context = contextOf(ROOT + "." + sources.relativize(file.getParent()).toString().replace('/', '.'));
                String code = COMMENT.matcher(Files.readString(file)).replaceAll("");
                Matcher m = SQL_RELATION.matcher(code);
                while (m.find()) {
                    String owner = OWNERS.get(m.group(1).toLowerCase());
                    if (owner != null && !owner.equals(context)) {
                        violations.add(sources.relativize(file) + " names " + owner + "'s " + m.group(1));
                    }
                }
            }
        }
        assertEquals(Set.of(), violations, "SQL naming another context's tables");
    }

    @Test
    void everyTableTheMigrationsCreateHasAnOwner() throws IOException {
        Pattern created = Pattern.compile("\\bcreate\\s+(?:or\\s+replace\\s+)?(?:table|view)\\s+(?:if\\s+not\\s+exists\\s+)?([a-z_][a-z0-9_]*)",
                Pattern.CASE_INSENSITIVE);
        Map<String, String> unowned = new TreeMap<>();
        try (Stream<Path> files = Files.list(Path.of("migrations"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".sql")).toList()) {
                Matcher m = created.matcher(Files.readString(file));
                while (m.find()) {
                    if (!OWNERS.containsKey(m.group(1).toLowerCase())) {
                        unowned.put(m.group(1), file.getFileName().toString());
                    }
                }
            }
        }
        assertEquals(Map.of(), unowned, "tables without an owning context");
    }
}
