package mav.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.File;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import mav.common.event.PromptRequest;
import mav.common.event.StageName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The page in a real headless Chromium (Debian's chromium and chromium-driver): a bad request shows its error at
 * the field, a good one shows the five stages advancing as the stages report, then plays the 768×768 MP4. Ends
 * with a screenshot at docs/img/gateway.png.
 */
@QuarkusTest
@QuarkusTestResource(KafkaAndS3.class)
class PageBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path SCREENSHOT = Path.of("..", "docs", "img", "gateway.png");

    @TestHTTPResource("/")
    URL page;

    private WebDriver browser;
    private WebDriverWait wait;
    private Path profile;

    @BeforeEach
    void openBrowser() throws Exception {
        assertTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "the browser test needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver");
        profile = Files.createTempDirectory("mav-chromium");
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1400,1500",
                "--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        wait = new WebDriverWait(browser, Duration.ofSeconds(30));
    }

    @AfterEach
    void closeBrowser() throws Exception {
        if (browser != null) {
            browser.quit();
        }
        if (profile != null) {
            try (var files = Files.walk(profile)) {
                files.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
            }
        }
    }

    @Test
    void aPersonSubmitsAPromptWatchesTheStagesAndPlaysTheVideo() throws Exception {
        browser.get(page.toString());
        WebElement key = browser.findElement(By.id("api-key"));
        key.sendKeys("page-key");
        browser.findElement(By.id("prompt")).click(); // leaving the key field stores it

        // a bad option: the error appears at the field, nothing is submitted
        type("prompt", "a red fox running through snow");
        type("fps", "99");
        browser.findElement(By.id("submit")).click();
        WebElement fpsError = browser.findElement(By.cssSelector(".field[data-field=fps] .field-error"));
        wait.until(d -> fpsError.getText().contains("fps must be in 1..30"));
        assertTrue(browser.findElement(By.cssSelector(".field[data-field=fps]")).getAttribute("class")
                .contains("invalid"));
        assertTrue(browser.findElement(By.id("job")).getAttribute("hidden") != null, "no job was shown");

        type("fps", "8");
        type("steps", "2");
        try (StagePlayer stages = new StagePlayer()) {
            // a job that fails in the decoder: its stage turns red and the page shows the stage's reason
            type("prompt", "a job the decoder refuses");
            browser.findElement(By.id("submit")).click();
            wait.until(d -> !d.findElement(By.id("job-id")).getText().isEmpty());
            assertTrue(fpsError.getText().isEmpty(), "the error is cleared on a good submission");
            String failing = browser.findElement(By.id("job-id")).getText();
            stages.runUpTo(failing, StageName.DECODER);
            stages.started(failing, StageName.DECODER);
            stages.failed(failing, StageName.DECODER, "decoder model not loaded: models/decoder/1/model.onnx missing");
            wait.until(d -> d.findElement(By.id("job-error")).getText()
                    .equals("failed in decoder: decoder model not loaded: models/decoder/1/model.onnx missing"));
            assertTrue(stageClass(StageName.DECODER).contains("failed"));
            assertTrue(browser.findElement(By.id("cancel")).getAttribute("hidden") != null, "a failed job has no Cancel");

            // a job the person cancels while the prior runs it: the badge says so and the button goes
            type("prompt", "a job cancelled from the page");
            browser.findElement(By.id("submit")).click();
            wait.until(d -> !d.findElement(By.id("job-id")).getText().isEmpty()
                    && !d.findElement(By.id("job-id")).getText().equals(failing));
            String cancelled = browser.findElement(By.id("job-id")).getText();
            stages.started(cancelled, StageName.PRIOR);
            stages.progress(cancelled, StageName.PRIOR, 1, 2);
            wait.until(d -> stageText(StageName.PRIOR).equals("step 1/2"));
            browser.findElement(By.id("cancel")).click();
            wait.until(d -> d.findElement(By.id("job-status")).getText().startsWith("cancelled"));
            assertTrue(browser.findElement(By.id("cancel")).getAttribute("hidden") != null);
            assertTrue(stages.store().exists("jobs/" + cancelled + "/cancelled"), "the stages' cancel marker");

            type("prompt", "a red fox running through snow");
            browser.findElement(By.id("submit")).click();
            wait.until(d -> !d.findElement(By.id("job-id")).getText().isEmpty()
                    && !d.findElement(By.id("job-id")).getText().equals(cancelled));
            String id = browser.findElement(By.id("job-id")).getText();
            assertTrue(browser.findElement(By.id("job-error")).getAttribute("hidden") != null);
            stages.started(id, StageName.PRIOR);
            stages.progress(id, StageName.PRIOR, 1, 2);
            wait.until(d -> stageText(StageName.PRIOR).equals("step 1/2") && barWidth(StageName.PRIOR) > 0);
            stages.progress(id, StageName.PRIOR, 2, 2);
            stages.done(id, StageName.PRIOR);
            stages.started(id, StageName.DECODER);
            stages.progress(id, StageName.DECODER, 1, 2);
            wait.until(d -> stageClass(StageName.PRIOR).contains("done") && stageText(StageName.DECODER)
                    .equals("step 1/2"));
            assertTrue(browser.findElement(By.id("job-status")).getText().contains("in_progress"));
            stages.runUpTo(id, StageName.SR_HIGH);
            wait.until(d -> stageClass(StageName.SR_LOW).contains("done"));
            stages.finish(id, new PromptRequest(id, "a red fox running through snow", null, null, 8, null,
                    Map.of("prior", 2, "decoder", 2, "interpolation", 2, "srLow", 2, "srHigh", 2)));
            awaitVideoAndShoot(id);
        }
    }

    private void awaitVideoAndShoot(String id) throws Exception {
        wait.until(d -> "768".equals(js("var v = document.getElementById('player');"
                + " return v.readyState >= 1 ? String(v.videoWidth) : null;")));
        assertEquals("768", js("return String(document.getElementById('player').videoHeight);"));
        assertTrue(browser.findElement(By.id("job-status")).getText().contains("completed"));
        wait.until(d -> !d.findElements(By.cssSelector("#gallery .tile[data-id='" + id + "']")).isEmpty());
        wait.until(d -> js("var t = document.querySelector(\"#gallery .tile[data-id='" + id + "'] .thumb\");"
                + " return t && t.style.backgroundImage ? 'yes' : null;") != null);
        wait.until(d -> !d.findElements(By.cssSelector("#stage-stats tbody tr")).isEmpty());
        // the video is 2 s long: let it play into a later frame for the picture
        Thread.sleep(700);

        Files.createDirectories(SCREENSHOT.getParent());
        File shot = ((org.openqa.selenium.TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), SCREENSHOT, StandardCopyOption.REPLACE_EXISTING);
        assertTrue(Files.size(SCREENSHOT) > 10_000);
    }

    private void type(String id, String text) {
        WebElement e = browser.findElement(By.id(id));
        e.clear();
        e.sendKeys(text);
    }

    private String stageText(StageName s) {
        return browser.findElement(By.cssSelector(".stage[data-stage='" + s.id() + "'] .steps")).getText();
    }

    private String stageClass(StageName s) {
        return browser.findElement(By.cssSelector(".stage[data-stage='" + s.id() + "']")).getAttribute("class");
    }

    private double barWidth(StageName s) {
        return browser.findElement(By.cssSelector(".stage[data-stage='" + s.id() + "'] .bar > div")).getSize()
                .getWidth();
    }

    private Object js(String script) {
        return ((JavascriptExecutor) browser).executeScript(script);
    }
}
