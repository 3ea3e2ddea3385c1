package mav.local;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code ./mav top}: per stage jobs/min, p50/p95 job latency (from {@code mav_stage_job_seconds_bucket}), jobs in
 * flight, failed jobs and the consumer-group lag of its input topic; replicas of a stage are summed.
 */
final class Top {
    /** One stage's numbers at one moment, replicas summed. */
    record Snapshot(int up, int replicas, double completed, double failed, double inFlight, double uptimeSeconds,
            TreeMap<Double, Double> buckets, long lag, long nanos) {
    }

    private Top() {
    }

    static int run(Args a, Layout layout, PrintStream out) {
        a.allowOnly(Set.of("once", "kafka", "s3", "s3-access-key", "s3-secret-key", "services", "topic-prefix",
                "interval", "state-dir", "http-port", "bucket"));
        Properties running = LocalStack.running(layout);
        String kafka = a.get("kafka", running != null ? running.getProperty("kafka") : "localhost:9092");
        String prefix = a.get("topic-prefix", running != null ? running.getProperty("topic-prefix", "mav.") : "mav.");
        Map<Stage, List<String>> urls = urls(a, running);
        boolean tty = ProgressView.isTerminal(false);
        int interval = a.intValue("interval", 2);
        Map<Stage, Snapshot> previous = null;
        try (ConsumerLag lag = new ConsumerLag(kafka, prefix)) {
            while (true) {
                Map<Stage, Snapshot> now = snapshot(urls, lag);
                String table = render(now, previous, kafka);
                if (tty && !a.flag("once")) {
                    out.print("\033[H\033[2J");
                }
                out.print(table);
                out.flush();
                if (a.flag("once")) {
                    return 0;
                }
                previous = now;
                ChildProcess.sleep(interval * 1000L);
                if (!tty) {
                    out.println();
                }
            }
        }
    }

    static Map<Stage, List<String>> urls(Args a, Properties running) {
        Map<Stage, List<String>> urls = new EnumMap<>(Stage.class);
        if (a.has("services")) {
            // --services prior=http://host:8081,decoder=http://host:8082,...
            for (String entry : a.get("services").split(",")) {
                int eq = entry.indexOf('=');
                if (eq > 0) {
                    urls.computeIfAbsent(Stage.parse(entry.substring(0, eq)), k -> new ArrayList<>())
                            .add(entry.substring(eq + 1));
                }
            }
        } else if (running != null) {
            LocalStack.serviceUrls(running).forEach((id, list) -> {
                if (!list.isEmpty()) {
                    urls.put(Stage.byId(id), list);
                }
            });
        }
        for (Stage s : Stage.values()) {
            urls.computeIfAbsent(s, k -> List.of("http://localhost:" + s.port(a.intValue("http-port",
                    StackOptions.DEFAULT_BASE_PORT), 0)));
        }
        return urls;
    }

    static Map<Stage, Snapshot> snapshot(Map<Stage, List<String>> urls, ConsumerLag lag) {
        Map<Stage, Snapshot> out = new EnumMap<>(Stage.class);
        for (Stage s : Stage.values()) {
            int up = 0;
            double completed = 0;
            double failed = 0;
            double inFlight = 0;
            double uptime = 0;
            TreeMap<Double, Double> buckets = new TreeMap<>();
            Map<String, String> tag = Map.of("stage", s.id());
            for (String url : urls.get(s)) {
                PromMetrics m = PromMetrics.scrape(url);
                if (m == null) {
                    continue;
                }
                up++;
                completed += m.sum("mav_stage_jobs_completed_total", tag);
                failed += m.sum("mav_stage_jobs_failed_total", tag);
                inFlight += m.sum("mav_stage_in_flight", tag);
                uptime = Math.max(uptime, m.sum("process_uptime_seconds", Map.of()));
                m.buckets("mav_stage_job_seconds", tag).forEach((k, v) -> buckets.merge(k, v, Double::sum));
            }
            out.put(s, new Snapshot(up, urls.get(s).size(), completed, failed, inFlight, uptime, buckets, lag.lag(s),
                    System.nanoTime()));
        }
        return out;
    }

    static String render(Map<Stage, Snapshot> now, Map<Stage, Snapshot> before, String kafka) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("mav top  %s  kafka %s  (jobs/min over %s)%n", java.time.LocalTime.now().withNano(0),
                kafka, before == null ? "the services' uptime" : "the last interval"));
        sb.append(String.format("%-14s %5s %9s %9s %9s %9s %10s %7s %6s%n", "stage", "up", "jobs/min", "p50 s",
                "p95 s", "in-flight", "completed", "failed", "lag"));
        for (Stage s : Stage.values()) {
            Snapshot n = now.get(s);
            double rate;
            if (before != null && before.get(s) != null) {
                Snapshot b = before.get(s);
                double dt = (n.nanos() - b.nanos()) / 1e9;
                rate = dt > 0 ? Math.max(0, n.completed() - b.completed()) / dt * 60 : 0;
            } else {
                rate = n.uptimeSeconds() > 0 ? n.completed() / n.uptimeSeconds() * 60 : 0;
            }
            sb.append(String.format("%-14s %5s %9.2f %9s %9s %9.0f %10.0f %7.0f %6s%n", s.id(),
                    n.up() + "/" + n.replicas(), rate, fmt(PromMetrics.quantile(0.5, n.buckets())),
                    fmt(PromMetrics.quantile(0.95, n.buckets())), n.inFlight(), n.completed(), n.failed(),
                    n.lag() < 0 ? "?" : String.valueOf(n.lag())));
        }
        return sb.toString();
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format("%.2f", v);
    }
}
