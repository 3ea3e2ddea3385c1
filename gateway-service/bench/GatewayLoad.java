import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A load run through the gateway: N submissions from C concurrent clients (each client submits, and when told
 * 429 waits Retry-After once before moving on), then polls every accepted job until it ends. Prints accepted,
 * rate-limited, over the in-flight cap, other rejections, completed, failed and the p50/p95/max of POST /v1/videos.
 * JDK only:
 *
 *   java gateway-service/bench/GatewayLoad.java --url http://localhost:8080 --jobs 200 --clients 4 [--key K]
 *        [--steps 2] [--max-wait-s 30] [--timeout-min 30] [--poll-min 30]
 *
 * --max-wait-s caps the wait a 429 asks for (the in-flight cap asks 30 s), so that a run against a slow pipeline
 * ends in minutes; --poll-min bounds the wait for the accepted jobs to end (0: submissions only).
 */
public class GatewayLoad {
    private static final Pattern ID = Pattern.compile("\"id\"\\s*:\\s*\"([^\"]+)\"");
    private static final Pattern STATUS = Pattern.compile("\"status\"\\s*:\\s*\"([a-z_]+)\"");

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new ConcurrentHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        String url = a.getOrDefault("url", "http://localhost:8080");
        int jobs = Integer.parseInt(a.getOrDefault("jobs", "200"));
        int clients = Integer.parseInt(a.getOrDefault("clients", "4"));
        int steps = Integer.parseInt(a.getOrDefault("steps", "2"));
        String key = a.get("key");
        long timeoutMin = Long.parseLong(a.getOrDefault("timeout-min", "30"));
        long maxWait = Long.parseLong(a.getOrDefault("max-wait-s", "30"));
        long pollMin = Long.parseLong(a.getOrDefault("poll-min", String.valueOf(timeoutMin)));
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

        List<Long> postNanos = Collections.synchronizedList(new ArrayList<>());
        List<String> accepted = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger limited = new AtomicInteger();
        AtomicInteger capped = new AtomicInteger();
        AtomicInteger otherRejected = new AtomicInteger();
        AtomicInteger next = new AtomicInteger();
        String stepsJson = "{\"prior\": " + steps + ", \"decoder\": " + steps + ", \"interpolation\": " + steps
                + ", \"srLow\": " + steps + ", \"srHigh\": " + steps + "}";
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        for (int c = 0; c < clients; c++) {
            pool.submit(() -> {
                for (int i; (i = next.getAndIncrement()) < jobs; ) {
                    String body = "{\"prompt\": \"load test prompt " + i + "\", \"seed\": " + i + ", \"steps\": "
                            + stepsJson + "}";
                    HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(url + "/v1/videos"))
                            .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
                            .POST(HttpRequest.BodyPublishers.ofString(body));
                    if (key != null) {
                        r.header("Authorization", "Bearer " + key);
                    }
                    long s = System.nanoTime();
                    HttpResponse<String> resp = http.send(r.build(), HttpResponse.BodyHandlers.ofString());
                    postNanos.add(System.nanoTime() - s);
                    if (resp.statusCode() == 202) {
                        Matcher m = ID.matcher(resp.body());
                        if (m.find()) {
                            accepted.add(m.group(1));
                        }
                    } else if (resp.statusCode() == 429) {
                        (resp.body().contains("in flight") ? capped : limited).incrementAndGet();
                        long wait = resp.headers().firstValue("Retry-After").map(Long::parseLong).orElse(1L);
                        Thread.sleep(Math.min(wait, maxWait) * 1000);
                    } else {
                        otherRejected.incrementAndGet();
                        System.err.println("HTTP " + resp.statusCode() + ": " + resp.body());
                    }
                }
                return null;
            });
        }
        pool.shutdown();
        pool.awaitTermination(timeoutMin, TimeUnit.MINUTES);
        double submitSeconds = (System.nanoTime() - t0) / 1e9;

        int completed = 0;
        int failed = 0;
        int cancelled = 0;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(pollMin);
        List<String> open = new ArrayList<>(accepted);
        while (!open.isEmpty() && System.nanoTime() < deadline) {
            List<String> still = new ArrayList<>();
            for (String id : open) {
                HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(url + "/v1/videos/" + id));
                if (key != null) {
                    r.header("Authorization", "Bearer " + key);
                }
                Matcher m = STATUS.matcher(http.send(r.build(), HttpResponse.BodyHandlers.ofString()).body());
                String st = m.find() ? m.group(1) : "?";
                if (st.equals("completed")) {
                    completed++;
                } else if (st.equals("failed")) {
                    failed++;
                } else if (st.equals("cancelled")) {
                    cancelled++;
                } else {
                    still.add(id);
                }
            }
            open = still;
            if (!open.isEmpty()) {
                Thread.sleep(2000);
            }
        }
        double allSeconds = (System.nanoTime() - t0) / 1e9;
        List<Long> sorted = new ArrayList<>(postNanos);
        Collections.sort(sorted);
        System.out.printf("submissions %d from %d clients in %.1f s: accepted %d, rate-limited (429) %d, over the"
                + " in-flight cap (429) %d, other rejections %d%n", jobs, clients, submitSeconds, accepted.size(),
                limited.get(), capped.get(), otherRejected.get());
        System.out.printf("POST /v1/videos latency ms: p50 %.1f, p95 %.1f, max %.1f (%d calls)%n",
                pct(sorted, 0.50), pct(sorted, 0.95), sorted.isEmpty() ? 0 : sorted.get(sorted.size() - 1) / 1e6,
                sorted.size());
        System.out.printf("accepted jobs: completed %d, failed %d, cancelled %d, unfinished %d; all done after %.1f s%n",
                completed, failed, cancelled, open.size(), allSeconds);
    }

    private static double pct(List<Long> sorted, double p) {
        if (sorted.isEmpty()) {
            return 0;
        }
        int rank = (int) Math.ceil(p * sorted.size());
        return sorted.get(Math.max(0, rank - 1)) / 1e6;
    }
}
