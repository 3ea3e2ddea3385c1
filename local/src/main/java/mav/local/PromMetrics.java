package mav.local;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** A scrape of Prometheus text exposition ({@code /q/metrics}): samples by name with their labels. */
final class PromMetrics {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    record Sample(String name, Map<String, String> labels, double value) {
    }

    final List<Sample> samples = new ArrayList<>();

    static PromMetrics scrape(String baseUrl) {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl + "/q/metrics"))
                    .timeout(Duration.ofSeconds(5)).header("Accept", "text/plain").GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                return null;
            }
            return parse(r.body());
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            return null;
        }
    }

    static PromMetrics parse(String text) {
        PromMetrics m = new PromMetrics();
        for (String line : text.split("\n")) {
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int brace = line.indexOf('{');
            int space;
            String name;
            Map<String, String> labels = new LinkedHashMap<>();
            if (brace >= 0 && brace < line.indexOf(' ')) {
                name = line.substring(0, brace);
                int close = line.indexOf('}', brace);
                if (close < 0) {
                    continue;
                }
                parseLabels(line.substring(brace + 1, close), labels);
                space = close + 1;
            } else {
                space = line.indexOf(' ');
                if (space < 0) {
                    continue;
                }
                name = line.substring(0, space);
            }
            String[] rest = line.substring(space).strip().split("\\s+");
            try {
                m.samples.add(new Sample(name, labels, parseValue(rest[0])));
            } catch (NumberFormatException e) {
                // skip
            }
        }
        return m;
    }

    private static double parseValue(String s) {
        return switch (s) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> Double.parseDouble(s);
        };
    }

    private static void parseLabels(String s, Map<String, String> out) {
        int i = 0;
        while (i < s.length()) {
            int eq = s.indexOf('=', i);
            if (eq < 0) {
                return;
            }
            String key = s.substring(i, eq).strip();
            if (key.startsWith(",")) {
                key = key.substring(1).strip();
            }
            int q = s.indexOf('"', eq);
            StringBuilder v = new StringBuilder();
            int j = q + 1;
            while (j < s.length() && s.charAt(j) != '"') {
                if (s.charAt(j) == '\\' && j + 1 < s.length()) {
                    j++;
                }
                v.append(s.charAt(j));
                j++;
            }
            out.put(key, v.toString());
            i = j + 1;
        }
    }

    /** Sum of the samples named {@code name} whose labels include {@code match}. */
    double sum(String name, Map<String, String> match) {
        double total = 0;
        for (Sample s : samples) {
            if (s.name.equals(name) && s.labels.entrySet().containsAll(match.entrySet())) {
                total += s.value;
            }
        }
        return total;
    }

    /** Cumulative bucket counts by upper bound of histogram {@code name} (without _bucket), summed over series. */
    TreeMap<Double, Double> buckets(String name, Map<String, String> match) {
        TreeMap<Double, Double> b = new TreeMap<>();
        for (Sample s : samples) {
            if (s.name.equals(name + "_bucket") && s.labels.entrySet().containsAll(match.entrySet())) {
                String le = s.labels.get("le");
                if (le != null) {
                    b.merge(parseValue(le), s.value, Double::sum);
                }
            }
        }
        return b;
    }

    /** The q-quantile of cumulative buckets, interpolated linearly within a bucket (as PromQL's histogram_quantile). */
    static double quantile(double q, TreeMap<Double, Double> cumulative) {
        if (cumulative.isEmpty()) {
            return Double.NaN;
        }
        double total = cumulative.lastEntry().getValue();
        if (total <= 0) {
            return Double.NaN;
        }
        double rank = q * total;
        double prevBound = 0;
        double prevCount = 0;
        for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
            if (e.getValue() >= rank) {
                if (e.getKey().isInfinite()) {
                    return prevBound;
                }
                double inBucket = e.getValue() - prevCount;
                double frac = inBucket <= 0 ? 1 : (rank - prevCount) / inBucket;
                return prevBound + (e.getKey() - prevBound) * frac;
            }
            prevBound = e.getKey();
            prevCount = e.getValue();
        }
        return prevBound;
    }

    /** Bucket-wise difference {@code now - before}, for quantiles over a window. */
    static TreeMap<Double, Double> minus(TreeMap<Double, Double> now, TreeMap<Double, Double> before) {
        TreeMap<Double, Double> d = new TreeMap<>();
        now.forEach((k, v) -> d.put(k, v - before.getOrDefault(k, 0.0)));
        return d;
    }
}
