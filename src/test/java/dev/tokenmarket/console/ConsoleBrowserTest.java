package dev.tokenmarket.console;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.Keys;
import org.openqa.selenium.NoAlertPresentException;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.IOException;
import java.math.BigDecimal;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Stream;

import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.usd;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The console in a real browser: what a person sees and does in it, checked against the API's own figures. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class ConsoleBrowserTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    private static Chromium chromium;

    @TestHTTPResource("/console/")
    URL console;

    private String testName;

    @BeforeAll
    static void startBrowser() throws IOException {
        chromium = new Chromium();
    }

    @AfterAll
    static void stopBrowser() throws IOException {
        if (chromium != null) {
            chromium.close();
        }
    }

    @BeforeEach
    void name(TestInfo info) {
        testName = info.getTestMethod().orElseThrow().getName();
    }

    @Test
    void shouldShowAnEndpointAProviderListsInTheConsoleOnTheMarketPageWithItsPrices() throws IOException {
        // Proves the provider's listing form and the market page: what was listed is what buyers see, price for price.
        Org provider = Market.org("console provider", "provider");
        Org buyer = Market.org("console buyer", "buyer");
        String hardware = "console-gpu-" + UUID.randomUUID();

        signIn(provider, "provider");
        type("ep-hardware", hardware);
        type("ep-prompt", "0.25");
        type("ep-completion", "1.5");
        click(By.id("ep-submit"));
        WebElement listed = waitFor(By.xpath("//table[@id='own-endpoints']//tr[td[text()='" + hardware + "']]"));
        String endpointId = listed.getAttribute("data-endpoint");
        JsonPath api = as(provider.key()).get("/api/endpoints/" + endpointId).then().statusCode(200).extract().jsonPath();
        assertEquals(0, usd("0.25").compareTo(usd(api.getString("pricing.prompt"))), api.prettify());
        assertEquals(0, usd("1.5").compareTo(usd(api.getString("pricing.completion"))), api.prettify());

        signOut();
        signIn(buyer, "market");
        marketRow(endpointId, hardware);
        assertEquals(api.getString("pricing.prompt"),
                inMarketRow(endpointId, row -> row.findElement(By.className("price-prompt")).getText()));
        assertEquals(api.getString("pricing.completion"),
                inMarketRow(endpointId, row -> row.findElement(By.className("price-completion")).getText()));
        // The scatter chart has the endpoint at its completion price and (not yet measured) declared throughput.
        @SuppressWarnings("unchecked")
        List<List<Number>> points = (List<List<Number>>) chromium.driver.executeScript(
                "return echarts.getInstanceByDom(document.getElementById('frontier-chart')).getOption().series[0].data"
                        + ".map(function (p) { return p.value; });");
        assertTrue(points.stream().anyMatch(p -> p.get(0).doubleValue() == 1.5 && p.get(1).doubleValue() == 100),
                "the endpoint at (1.5 USD/1M, 100 tok/s) among " + points);

        // Everything the page loaded came from the application itself, and the policy blocked nothing it needs.
        @SuppressWarnings("unchecked")
        List<String> loaded = (List<String>) chromium.driver.executeScript(
                "return performance.getEntriesByType('resource').map(function (r) { return r.name; });");
        String origin = console.getProtocol() + "://" + console.getAuthority() + "/";
        assertTrue(loaded.stream().allMatch(u -> u.startsWith(origin)), "only same-origin resources: " + loaded);
        assertNoBrowserErrors();

        // On a phone-sized screen the page does not scroll sideways; wide tables scroll inside their own box.
        chromium.driver.manage().window().setSize(new Dimension(390, 844));
        Number overflow = (Number) chromium.driver.executeScript(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
        Object wide = chromium.driver.executeScript("""
                var w = document.documentElement.clientWidth;
                return Array.from(document.querySelectorAll('body *')).filter(function (e) {
                    return e.getBoundingClientRect().right > w && (!e.closest('.table-wrap') || getComputedStyle(e).position === 'absolute');
                }).map(function (e) { return e.tagName + '#' + e.id + '.' + e.className + ' ' + e.getBoundingClientRect().right; });""");
        chromium.screenshot(testName + "-phone");
        chromium.driver.manage().window().setSize(new Dimension(1280, 1400));
        assertEquals(0, overflow.intValue(), "horizontal overflow on a 390 px wide screen from " + wide);
        chromium.screenshot(testName);
        // The catalog is shared by all test classes: a cheap endpoint left active would draw their unpinned requests.
        as(provider.key()).delete("/api/endpoints/" + endpointId).then().statusCode(200);
    }

    @Test
    void shouldShowAProvidersHardwareStringAsTextOnTheBuyersMarketPageWithoutRunningIt() throws IOException {
        // Proves escaping of provider-chosen text: markup in a hardware string is shown, never parsed or run.
        Org provider = Market.org("console hostile provider", "provider");
        Org buyer = Market.org("console buyer", "buyer");
        String hostile = "<img src=x onerror=alert(1)> " + UUID.randomUUID();
        String endpointId = as(provider.key()).body(Map.of(
                        "model", Market.MODEL, "hardware", hostile, "hardware_class", "gpu", "region", "local",
                        "pricing", Map.of("prompt", "1", "completion", "2"),
                        "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                        "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", 4),
                        "backend", Map.of("type", "reference")))
                .post("/api/endpoints").then().statusCode(201).extract().path("id");

        signIn(buyer, "market");
        marketRow(endpointId, hostile);
        assertEquals(hostile, inMarketRow(endpointId, row -> row.findElement(By.className("hardware")).getText()));
        int images = inMarketRow(endpointId, row -> row.findElements(By.tagName("img")).size());
        assertEquals(0, images, "no element was made from the string");
        assertEquals(0, chromium.driver.findElements(By.cssSelector("main img")).size());
        chromium.screenshot(testName);
        assertThrows(NoAlertPresentException.class, () -> chromium.driver.switchTo().alert(), "no script ran");
        assertNoBrowserErrors();
        as(provider.key()).delete("/api/endpoints/" + endpointId).then().statusCode(200);
    }

    @Test
    void shouldStreamACompletionInThePlaygroundAndShowTheCostTheGenerationRecordBilledInSpendAndBalance() throws IOException {
        // Proves the buyer page: the playground's cost is the generation's, and the spend chart and balance agree with it.
        Org provider = Market.org("console playground provider", "provider");
        Org buyer = Market.org("console playground buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1000.00", "2000.00");
        Market.funded(buyer, "5.00");

        signIn(buyer, "buyer");
        waitFor(By.cssSelector("#pg-model option[value='" + Market.MODEL + "']"));
        type("pg-only", endpointId);
        chromium.driver.findElement(By.id("pg-max-tokens")).clear();
        type("pg-max-tokens", "16");
        click(By.id("pg-send"));
        new WebDriverWait(chromium.driver, WAIT).until(d -> !d.findElement(By.id("pg-billed")).getText().equals("–")
                || d.findElement(By.id("error")).isDisplayed());
        assertTrue(!chromium.driver.findElement(By.id("error")).isDisplayed(), () -> chromium.driver.findElement(By.id("error")).getText());
        String generationId = chromium.driver.findElement(By.id("pg-generation")).getText();
        String shownCost = chromium.driver.findElement(By.id("pg-cost")).getText();
        assertTrue(!chromium.driver.findElement(By.id("pg-output")).getText().isEmpty(), "streamed text shown");
        assertTrue(chromium.driver.findElement(By.id("pg-provider")).getText().startsWith("console playground provider"),
                "the provider chosen is shown");

        JsonPath generation = as(buyer.key()).queryParam("id", generationId).get("/v1/generation").then().statusCode(200)
                .extract().jsonPath();
        assertEquals(generation.getString("data.cost"), shownCost, "the playground shows the generation's cost");
        BigDecimal cost = Market.billed(generationId, generation, "1000.00", "2000.00").costUsd();

        // The spend chart's bar for today and this model holds exactly that cost.
        @SuppressWarnings("unchecked")
        Map<String, Object> chart = (Map<String, Object>) chromium.driver.executeScript("""
                var o = echarts.getInstanceByDom(document.getElementById('spend-chart')).getOption();
                return { days: o.xAxis[0].data, series: o.series.map(function (s) {
                    return { name: s.name, spend: s.data.map(function (d) { return d.spend; }) }; }) };""");
        @SuppressWarnings("unchecked")
        List<String> days = (List<String>) chart.get("days");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> series = (List<Map<String, Object>>) chart.get("series");
        assertEquals(1, series.size(), "one model bought: " + series);
        assertEquals(Market.MODEL, series.getFirst().get("name"));
        @SuppressWarnings("unchecked")
        List<String> spend = (List<String>) series.getFirst().get("spend");
        String today = LocalDate.now(ZoneOffset.UTC).toString();
        assertEquals(0, cost.compareTo(usd(spend.get(days.indexOf(today)))), "today's spend " + spend + " on " + days);

        // Once settled, the balance the console shows is the deposit less that cost.
        Market.awaitSettled(buyer);
        click(By.id("balance-refresh"));
        BigDecimal expected = usd("5.00").subtract(cost);
        new WebDriverWait(chromium.driver, WAIT).until(d -> usd(d.findElement(By.id("balance-held")).getText()).signum() == 0);
        assertEquals(0, expected.compareTo(usd(chromium.driver.findElement(By.id("balance-posted")).getText())));
        assertEquals(0, expected.compareTo(usd(chromium.driver.findElement(By.id("balance-available")).getText())));
        Market.assertSettled(buyer, "5.00", provider, List.of(new Market.Generation(generationId, cost)));
        chromium.screenshot(testName);
        assertNoBrowserErrors();
    }

    @Test
    void shouldDownloadTheStatementCsvFinanceSeesWithTheApisBytes() throws IOException {
        // Proves the finance page's download: the file saved is byte for byte the API's CSV statement.
        Org finance = Market.org("console finance", "finance");
        Org buyer = Market.org("console statement buyer", "buyer");
        Market.funded(buyer, "3.25");
        Market.funded(buyer, "1.75");
        String accountId = String.valueOf(as(Market.ADMIN_KEY).queryParam("org_id", buyer.id()).get("/api/ledger/accounts")
                .then().statusCode(200).extract().jsonPath().getLong("accounts.find { it.kind == 'buyer_wallet' }.id"));

        signIn(finance, "finance");
        type("statement-account", accountId);
        click(By.cssSelector("#statement-form button[type=submit]"));
        waitFor(By.xpath("//table[@id='statement']//td[text()='deposit']"));
        click(By.id("statement-csv"));
        Path file = chromium.downloads.resolve("statement-" + accountId + ".csv");
        new WebDriverWait(chromium.driver, WAIT).until(d -> Files.exists(file) && noPartialDownloads());
        String from = chromium.driver.findElement(By.id("statement-from")).getAttribute("value");
        String to = chromium.driver.findElement(By.id("statement-to")).getAttribute("value");
        byte[] api = as(finance.key()).accept("text/csv").queryParam("from", from).queryParam("to", to)
                .get("/api/ledger/accounts/" + accountId + "/statement").then().statusCode(200).extract().asByteArray();
        assertTrue(new String(api, java.nio.charset.StandardCharsets.UTF_8).contains("3.25"), "the statement lists the deposit");
        assertArrayEquals(api, Files.readAllBytes(file));
        chromium.screenshot(testName);
        assertNoBrowserErrors();
    }

    @Test
    void shouldTellAPersonSignedInWithARefusedKeyWhatToDo() throws IOException {
        // Proves API errors reach the person with the API's code and message and a next step.
        signInAllowingErrors(new Org(null, "tm_not_a_key_" + UUID.randomUUID(), null), "market");
        WebElement error = waitFor(By.id("error"));
        assertTrue(error.getText().contains("HTTP 401, invalid_api_key"), error.getText());
        assertTrue(error.getText().contains("sign in again with a valid, unrevoked key"), error.getText());
        chromium.screenshot(testName);
        // The browser logged the refused calls; they are this test's, not the next one's.
        chromium.driver.manage().logs().get(LogType.BROWSER).getAll();
    }

    // ------------------------------------------------------------------ steps a person takes

    /** Opens the console afresh (a new page holds no key), signs in, and checks that the page loaded without error. */
    private void signIn(Org org, String page) {
        signInAllowingErrors(org, page);
        WebElement error = chromium.driver.findElement(By.id("error"));
        assertTrue(!error.isDisplayed(), () -> "the " + page + " page shows an error: " + error.getText());
    }

    private void signInAllowingErrors(Org org, String page) {
        chromium.driver.get("about:blank");
        chromium.driver.get(console + "#" + page);
        WebElement key = waitFor(By.id("api-key"));
        chromium.driver.executeScript("delete document.body.dataset.loaded;");
        key.sendKeys(org.key(), Keys.ENTER);
        new WebDriverWait(chromium.driver, WAIT).until(d -> page.equals(d.findElement(By.tagName("body")).getAttribute("data-loaded")));
    }

    private void signOut() {
        click(By.id("sign-out"));
        waitFor(By.id("api-key"));
    }

    /** Opens the model's endpoints on the market page and waits for the endpoint's row, filtered by its hardware. */
    private void marketRow(String endpointId, String hardware) {
        click(By.xpath("//table[@id='models']//tr[th[text()='" + Market.MODEL + "']]//button"));
        type("endpoint-filter", hardware);
        waitFor(By.cssSelector("#endpoints tr[data-endpoint='" + endpointId + "']"));
    }

    /** Reads the endpoint's market row, found again on each try: the page redraws the table while it refreshes. */
    private <T> T inMarketRow(String endpointId, Function<WebElement, T> read) {
        By row = By.cssSelector("#endpoints tr[data-endpoint='" + endpointId + "']");
        return new WebDriverWait(chromium.driver, WAIT).ignoring(StaleElementReferenceException.class)
                .until(d -> read.apply(d.findElement(row)));
    }

    private void type(String id, String text) {
        waitFor(By.id(id)).sendKeys(text);
    }

    private void click(By by) {
        new WebDriverWait(chromium.driver, WAIT).until(ExpectedConditions.elementToBeClickable(by)).click();
    }

    private WebElement waitFor(By by) {
        return new WebDriverWait(chromium.driver, WAIT).until(ExpectedConditions.visibilityOfElementLocated(by));
    }

    private boolean noPartialDownloads() {
        try (Stream<Path> files = Files.list(chromium.downloads)) {
            return files.noneMatch(f -> f.getFileName().toString().endsWith(".crdownload"));
        } catch (IOException e) {
            return false;
        }
    }

    /** Nothing the browser logged as an error: no script failure, no resource the policy refused. */
    private static void assertNoBrowserErrors() {
        List<LogEntry> errors = chromium.driver.manage().logs().get(LogType.BROWSER).getAll().stream()
                .filter(e -> e.getLevel().intValue() >= java.util.logging.Level.SEVERE.intValue()).toList();
        assertEquals(List.of(), errors.stream().map(LogEntry::getMessage).toList());
    }
}
