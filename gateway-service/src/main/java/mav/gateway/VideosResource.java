package mav.gateway;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.core.JsonProcessingException;
import io.micrometer.core.instrument.MeterRegistry;
import io.minio.StatObjectResponse;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mav.common.event.EventCodec;
import mav.common.event.InvalidEventException;
import mav.common.event.PromptRequest;
import mav.common.stage.JobCancelledException;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.jboss.resteasy.reactive.RestStreamElementType;

/**
 * The asynchronous video resource: submit ({@code POST}), poll ({@code GET}), follow ({@code /events}), download
 * ({@code /content}), list, cancel and delete. Every job is visible only to the key that made it; others get 404.
 */
@Path("/v1/videos")
public class VideosResource {
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d*)-(\\d*)");
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final ObjectMapper STRICT = EventCodec.mapper().copy()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    @Inject
    JobIndex index;
    @Inject
    JobPublisher publisher;
    @Inject
    ObjectStore store;
    @Inject
    RateLimiter rateLimiter;
    @Inject
    GatewayConfig config;
    @Inject
    MeterRegistry registry;

    private final Map<String, JsonNode> metadataCache = new ConcurrentHashMap<>();
    private static final Map<String, Object> submitLocks = new ConcurrentHashMap<>();

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Submit a prompt; 202 with the queued job and its Location")
    public Response submit(String body, @Context ContainerRequestContext ctx) {
        Caller caller = caller(ctx);
        SubmitRequest submitted = read(body);
        String callbackUrl = callback(submitted.callbackUrl(), caller);
        PromptRequest request = parse(submitted);
        // one submission of a key at a time on this replica: the id and in-flight checks then hold until it is in
        // the view (across replicas a key may still pass the cap by the submissions in flight at once elsewhere)
        synchronized (submitLocks.computeIfAbsent(caller.bucket(), k -> new Object())) {
            return accept(request, caller, callbackUrl);
        }
    }

    private Response accept(PromptRequest request, Caller caller, String callbackUrl) {
        String id = request.jobId();
        String recordKey = "gateway/jobs/" + id + ".json";
        if (index.known(id) || store.blobs().exists(recordKey)) {
            count("conflict");
            throw ApiProblem.of(Response.Status.CONFLICT, "Conflict").field("id").job(id)
                    .detail("a job with id '" + id + "' exists; ids are never reused").build();
        }
        if (index.inFlight(caller.bucket()) >= config.gateway().maxInFlight()) {
            throw rejected("too many jobs in flight: this key has " + config.gateway().maxInFlight()
                    + " queued or in progress; wait for one to finish", 30);
        }
        long wait = rateLimiter.tryAcquire(caller.bucket());
        if (wait > 0) {
            throw rejected("rate limit: " + config.gateway().submissionsPerMinute() + " submissions per minute per"
                    + " key (bursts of " + config.gateway().submissionBurst() + ")", wait);
        }
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("id", id);
        record.put("owner", caller.owner());
        record.put("created_at", Instant.now());
        record.put("request", request);
        record.put("callback_url", callbackUrl);
        // written before the prompt is published (claim check): its presence makes the id taken on every replica
        store.blobs().put(recordKey, EventCodec.toJson(record).getBytes(StandardCharsets.UTF_8), "application/json");
        try {
            var status = publisher.submit(request, caller.owner(), callbackUrl);
            index.accept(status.key(), status.value(), status.headers());
        } catch (JobPublisher.PublishException e) {
            store.delete(recordKey);
            count("unavailable");
            throw ApiProblem.of(Response.Status.SERVICE_UNAVAILABLE, "Service Unavailable").job(id)
                    .detail(e.getMessage()).header("Retry-After", "10").build();
        }
        count("accepted");
        Job.JobView view = index.find(id).orElseThrow();
        return Response.accepted(JobJson.of(view, null)).location(URI.create("/v1/videos/" + id)).build();
    }

    private SubmitRequest read(String body) {
        SubmitRequest s;
        try {
            s = STRICT.readValue(body == null ? "" : body, SubmitRequest.class);
        } catch (UnrecognizedPropertyException e) {
            throw badRequest(e.getPropertyName(), "unknown field '" + e.getPropertyName() + "'");
        } catch (MismatchedInputException e) {
            String field = e.getPath().isEmpty() ? null : pathOf(e);
            throw badRequest(field, field == null ? "the body must be a JSON object"
                    : field + " has the wrong type: " + e.getOriginalMessage());
        } catch (JsonProcessingException e) {
            throw badRequest(null, "the body is not JSON: " + e.getOriginalMessage());
        }
        if (s == null) {
            throw badRequest(null, "the body must be a JSON object");
        }
        return s;
    }

    /** The callback URL, checked, or null; a callback the gateway could not sign is refused now, not dropped later. */
    private String callback(String url, Caller caller) {
        if (url == null) {
            return null;
        }
        try {
            CallbackTarget.check(url, config.gateway().callbackAllowPrivate());
        } catch (IllegalArgumentException e) {
            throw badRequest("callback_url", e.getMessage());
        }
        if (caller.owner() == null && config.gateway().callbackSecret().isEmpty()) {
            throw badRequest("callback_url", "this gateway has no API keys and no callback secret to sign callbacks"
                    + " with (set MAV_GATEWAY_CALLBACK_SECRET)");
        }
        return url;
    }

    private PromptRequest parse(SubmitRequest s) {
        String id = s.id() != null ? s.id() : "video_" + HexFormat.of().formatHex(randomBytes());
        try {
            return s.toPromptRequest(id).validate();
        } catch (InvalidEventException e) {
            throw badRequest(SubmitRequest.apiField(e.getMessage()), e.getMessage());
        }
    }

    private static String pathOf(MismatchedInputException e) {
        StringBuilder b = new StringBuilder();
        for (var ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                b.append(b.length() == 0 ? "" : ".").append(ref.getFieldName());
            }
        }
        return b.length() == 0 ? null : b.toString();
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[12];
        RANDOM.nextBytes(b);
        return b;
    }

    private ApiProblem badRequest(String field, String detail) {
        count("invalid");
        ApiProblem.Builder b = ApiProblem.of(Response.Status.BAD_REQUEST, "Bad Request").detail(detail);
        if (field != null) {
            b.field(field);
        }
        return b.build();
    }

    private ApiProblem rejected(String detail, long retryAfterSeconds) {
        count("rate_limited");
        return ApiProblem.of(429, "Too Many Requests").detail(detail)
                .header("Retry-After", Long.toString(retryAfterSeconds)).build();
    }

    private void count(String outcome) {
        registry.counter("mav.gateway.submissions", "outcome", outcome).increment();
    }

    @GET
    @Path("{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "The job: status, progress, each stage's state, the failure, the video's metadata")
    public Map<String, Object> get(@PathParam("id") String id, @Context ContainerRequestContext ctx) {
        return json(visible(id, caller(ctx)));
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "The caller's jobs, newest first; page with after=<last id>")
    public Map<String, Object> list(@QueryParam("limit") @DefaultValue("20") int limit,
            @QueryParam("after") String after, @Context ContainerRequestContext ctx) {
        if (limit < 1 || limit > 100) {
            throw badRequest("limit", "limit must be in 1..100, got " + limit);
        }
        Caller caller = caller(ctx);
        List<Job.JobView> mine = index.newestFirst().stream().filter(v -> caller.canSee(v.owner())).toList();
        int from = 0;
        if (after != null) {
            from = -1;
            for (int i = 0; i < mine.size(); i++) {
                if (mine.get(i).id().equals(after)) {
                    from = i + 1;
                }
            }
            if (from < 0) {
                throw ApiProblem.of(Response.Status.NOT_FOUND, "Not Found").field("after").job(after)
                        .detail("no job '" + after + "' to page after").build();
            }
        }
        List<Map<String, Object>> data = new ArrayList<>();
        for (Job.JobView v : mine.subList(from, Math.min(mine.size(), from + limit))) {
            data.add(json(v));
        }
        Map<String, Object> page = new LinkedHashMap<>();
        page.put("object", "list");
        page.put("data", data);
        page.put("has_more", from + limit < mine.size());
        page.put("last_id", data.isEmpty() ? null : data.get(data.size() - 1).get("id"));
        return page;
    }

    @GET
    @Path("{id}/content")
    @Operation(summary = "The MP4 (variant=video) or the poster PNG (variant=thumbnail); 409 before completion")
    public Response content(@PathParam("id") String id, @QueryParam("variant") @DefaultValue("video") String variant,
            @QueryParam("redirect") @DefaultValue("false") boolean redirect, @HeaderParam("Range") String range,
            @Context ContainerRequestContext ctx) {
        String ext = switch (variant) {
            case "video" -> ".mp4";
            case "thumbnail" -> ".png";
            default -> throw badRequest("variant", "variant must be video or thumbnail, got '" + variant + "'");
        };
        Job.JobView v = visible(id, caller(ctx));
        if (v.status() != Job.Status.COMPLETED) {
            throw ApiProblem.of(Response.Status.CONFLICT, "Conflict").job(id)
                    .detail("job " + id + " is " + v.status().id() + switch (v.status()) {
                        case FAILED -> " (stage " + v.failedStage().id() + "): it has no video";
                        case CANCELLED -> ": it has no video";
                        default -> " (" + v.progress() + "%): its video is not ready yet";
                    }).build();
        }
        String key = "videos/" + id + ext;
        if (redirect) {
            return Response.temporaryRedirect(URI.create(store.presign(key))).build();
        }
        StatObjectResponse stat = store.stat(key);
        if (stat == null) {
            throw ApiProblem.of(Response.Status.NOT_FOUND, "Not Found").job(id)
                    .detail("job " + id + " completed but s3://" + store.bucket() + "/" + key + " is gone").build();
        }
        long size = stat.size();
        long start = 0;
        long end = size - 1;
        boolean partial = false;
        Matcher m = range == null ? null : RANGE.matcher(range.trim());
        if (m != null && m.matches() && !(m.group(1).isEmpty() && m.group(2).isEmpty())) {
            if (m.group(1).isEmpty()) {
                start = Math.max(0, size - Long.parseLong(m.group(2)));
            } else {
                start = Long.parseLong(m.group(1));
                end = m.group(2).isEmpty() ? end : Math.min(end, Long.parseLong(m.group(2)));
            }
            if (start > end || start >= size) {
                return Response.status(416).header("Content-Range", "bytes */" + size).build();
            }
            partial = true;
        }
        long first = start;
        long length = end - start + 1;
        StreamingOutput body = out -> {
            try (InputStream in = store.open(key, first, length)) {
                in.transferTo(out);
            }
        };
        Response.ResponseBuilder r = Response.status(partial ? 206 : 200).entity(body)
                .type(ext.equals(".mp4") ? "video/mp4" : "image/png")
                .header("Accept-Ranges", "bytes").header("Content-Length", length)
                .header("Cache-Control", "private, max-age=3600");
        if (partial) {
            r.header("Content-Range", "bytes " + start + "-" + end + "/" + size);
        }
        return r.build();
    }

    @GET
    @Path("{id}/events")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @RestStreamElementType(MediaType.APPLICATION_JSON)
    @Blocking
    @Operation(summary = "Server-sent events of the job: the state so far, then each change, until it ends")
    public Multi<Map<String, Object>> events(@PathParam("id") String id, @Context ContainerRequestContext ctx) {
        visible(id, caller(ctx));
        return Multi.createFrom().emitter(em -> {
            long[] last = {-1};
            Consumer<Job.JobView> send = v -> {
                synchronized (last) {
                    if (v.version() <= last[0] || em.isCancelled()) {
                        return;
                    }
                    last[0] = v.version();
                    em.emit(json(v));
                    if (v.status().terminal()) {
                        em.complete();
                    }
                }
            };
            AutoCloseable handle = index.watch(id, send);
            em.onTermination(() -> {
                try {
                    handle.close();
                } catch (Exception ignored) {
                    // removing a watcher cannot fail
                }
            });
            // the state so far, after registering so that no change falls between the two
            index.find(id).ifPresent(send);
        });
    }

    @DELETE
    @Path("{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Cancels a job in flight (200, the job, status cancelled), or deletes a finished job's"
            + " video, poster, metadata and intermediates")
    public Map<String, Object> delete(@PathParam("id") String id, @Context ContainerRequestContext ctx) {
        Job.JobView v = visible(id, caller(ctx));
        String marker = JobCancelledException.markerKey(id);
        if (!v.status().terminal()) {
            // the marker first: once it exists no stage starts the job, and the one running it stops at its next step
            store.blobs().put(marker, EventCodec.toJson(Map.of("id", id, "cancelled_at", Instant.now()))
                    .getBytes(StandardCharsets.UTF_8), "application/json");
            var cancelled = publisher.cancelled(id);
            index.accept(cancelled.key(), cancelled.value(), cancelled.headers());
            return json(index.find(id).orElseThrow());
        }
        for (String ext : List.of(".mp4", ".png", ".json")) {
            store.delete("videos/" + id + ext);
        }
        // a cancelled job's marker stays: a stage may still hold the job until its next step boundary
        store.deletePrefix("jobs/" + id + "/", marker);
        // the record stays, emptied of the prompt, so that the id remains taken
        store.blobs().put("gateway/jobs/" + id + ".json", EventCodec.toJson(Map.of("id", id, "deleted_at",
                Instant.now())).getBytes(StandardCharsets.UTF_8), "application/json");
        var deleted = publisher.deleted(id);
        index.accept(deleted.key(), deleted.value(), deleted.headers());
        metadataCache.remove(id);
        return Map.of("id", id, "object", "video", "deleted", true);
    }

    private Job.JobView visible(String id, Caller caller) {
        return index.find(id).filter(v -> caller.canSee(v.owner()))
                .orElseThrow(() -> ApiProblem.of(Response.Status.NOT_FOUND, "Not Found").job(id)
                        .detail("no video job '" + id + "'").build());
    }

    private Map<String, Object> json(Job.JobView v) {
        return JobJson.of(v, v.status() == Job.Status.COMPLETED ? metadata(v.id()) : null);
    }

    /** The video's metadata object written by sr-high; immutable once there, so cached. */
    private JsonNode metadata(String id) {
        JsonNode cached = metadataCache.get(id);
        if (cached != null) {
            return cached;
        }
        JsonNode node = store.videoMetadata(id);
        if (node != null) {
            metadataCache.put(id, node);
        }
        return node;
    }

    static Caller caller(ContainerRequestContext ctx) {
        if (ctx.getProperty(AuthFilter.CALLER) instanceof Caller caller) {
            return caller;
        }
        // fail closed: a request the filter did not see is nobody's
        throw new IllegalStateException("no caller on a /v1 request: the authentication filter did not run");
    }
}
