package mav.gateway;

import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An error answered as RFC 9457 problem+json: {@code type}, {@code title}, {@code status}, {@code detail}, plus
 * {@code field} for a bad request and {@code job_id} when a job is concerned.
 */
public final class ApiProblem extends WebApplicationException {
    public static final String MEDIA_TYPE = "application/problem+json";

    private ApiProblem(Response response, String detail) {
        super(detail, response);
    }

    public static Builder of(Response.Status status, String title) {
        return new Builder(status.getStatusCode(), title);
    }

    public static Builder of(int status, String title) {
        return new Builder(status, title);
    }

    public static final class Builder {
        private final int status;
        private final Map<String, Object> body = new LinkedHashMap<>();
        private final Map<String, String> headers = new LinkedHashMap<>();

        private Builder(int status, String title) {
            this.status = status;
            body.put("type", "about:blank");
            body.put("title", title);
            body.put("status", status);
        }

        public Builder detail(String detail) {
            body.put("detail", detail);
            return this;
        }

        public Builder field(String field) {
            body.put("field", field);
            return this;
        }

        public Builder job(String jobId) {
            body.put("job_id", jobId);
            return this;
        }

        public Builder header(String name, String value) {
            headers.put(name, value);
            return this;
        }

        public ApiProblem build() {
            Response.ResponseBuilder r = Response.status(status).type(MEDIA_TYPE).entity(body);
            headers.forEach(r::header);
            return new ApiProblem(r.build(), (String) body.getOrDefault("detail", body.get("title")));
        }
    }
}
