package mav.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Fault injection on the real local stack with the tiny models of {@code testing/models/}, one denoising step per
 * stage, decoder and sr-low with two replicas each: the same scenarios as {@code ./mav chaos}, with few jobs so
 * that it stays within a few minutes on two cores. Results are counted as a read_committed consumer sees them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ChaosIT {
    // the sizes issue #29 asks of the suite in CI
    private static final int JOBS_UNDER_KILL = 20;
    private static final int BAD_RECORDS = 1000;
    private LocalStack stack;
    private Chaos chaos;

    @BeforeAll
    void startStack() {
        Path root = Path.of(System.getProperty("mav.repo.root", "..")).toAbsolutePath().normalize();
        Path state = root.resolve("local/target/chaos-state");
        Layout.deleteTree(state);
        Layout layout = Layout.of(root, state);
        StackOptions options = new StackOptions(0, 0, 0, 0, null, null, "minioadmin", "minioadmin", "mav", "mav.", 2,
                root.resolve("testing/models"), Map.of(), 1, 1, true, 240, List.of(), 0)
                .onFreePorts(Map.of(Stage.DECODER, 2, Stage.SR_LOW, 2), root.resolve("testing/models"))
                .withServiceJvmOptions(List.of("-XX:TieredStopAtLevel=1", "-Xmx600m"));
        stack = LocalStack.start(layout, options, s -> System.out.println("CHAOS: " + s));
        chaos = new Chaos(stack, Duration.ofSeconds(480), s -> System.out.println("CHAOS: " + s));
    }

    @AfterAll
    void stopStack() {
        if (stack != null) {
            stack.close();
        }
    }

    private static Chaos.Figures report(Chaos.Figures f) {
        System.out.println("CHAOS: " + Chaos.Figures.header());
        System.out.println("CHAOS: " + f.line());
        f.checks().forEach(c -> System.out.println("CHAOS:     " + c.line()));
        return f;
    }

    private static void assertChecks(Chaos.Figures f, int expected) {
        assertEquals(expected, f.checks().size(), f.checks().toString());
        for (Chaos.Check c : f.checks()) {
            assertTrue(c.passed(), c.name() + ": " + c.detail());
        }
    }

    @Test
    @Order(1)
    void killingBusyReplicasLosesNoJobAndPublishesEachResultOnce() {
        Chaos.Figures f = report(chaos.killReplicas(JOBS_UNDER_KILL));
        assertEquals(JOBS_UNDER_KILL, f.completed(), f.line());
        assertEquals(0, f.duplicates(), "records on mav.videos or done statuses beyond one per job: " + f.line());
        assertEquals(0, f.failed(), f.line());
    }

    @Test
    @Order(2)
    void aReplicaStoppedMidJobDrainsItAndTheJobIsDoneOnce() {
        Chaos.Figures f = report(chaos.sigterm(2));
        assertEquals(2, f.completed(), f.line());
        assertEquals(0, f.duplicates(), "a duplicate or a recomputation at sr-low: " + f.line());
        assertEquals(0, f.failed(), f.line());
    }

    @Test
    @Order(3)
    void everyJobCompletesWhenTheStoreIsDownForHalfAMinute() {
        Chaos.Figures f = report(chaos.storeOutage(2, 30));
        assertEquals(2, f.completed(), f.line());
        assertEquals(0, f.failed(), f.line());
        assertEquals(0, f.duplicates(), f.line());
    }

    @Test
    @Order(4)
    void everyJobCompletesOnceWhenTheStoreIsFrozenAndReadinessSaysDownWithinASecond() {
        Chaos.Figures f = report(chaos.storeFreeze(2, 30));
        assertEquals(2, f.completed(), f.line());
        assertEquals(0, f.failed(), f.line());
        assertEquals(0, f.duplicates(), f.line());
        assertChecks(f, 2);
    }

    @Test
    @Order(5)
    void everyJobCompletesOnceWhenTheBrokerIsFrozenForHalfAMinute() {
        Chaos.Figures f = report(chaos.brokerPause(2, 30));
        assertEquals(2, f.completed(), f.line());
        assertEquals(0, f.failed(), f.line());
        assertEquals(0, f.duplicates(), f.line());
    }

    @Test
    @Order(6)
    void badRecordsEachFailOnceWithADeadLetterAndAWarnLineAndStopNothing() {
        Chaos.Figures f = report(chaos.badRecords(BAD_RECORDS));
        assertEquals(BAD_RECORDS, f.failed(), "bad records with exactly one failed status and one dead letter: " + f.line());
        assertEquals(0, f.duplicates(), f.line());
        assertEquals(1, f.completed(), "the good job after them: " + f.line());
        assertTrue(f.recoverySeconds() < 120, "the good job took " + f.recoverySeconds() + " s");
        assertChecks(f, 2);
    }
}
