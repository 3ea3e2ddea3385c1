package mav.gateway;

import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/** Every /v1 call presents {@code Authorization: Bearer <key>} when keys are configured; 401 otherwise. */
public class AuthFilter {
    public static final String CALLER = "mav.caller";

    @Inject
    ApiKeys keys;

    @ServerRequestFilter(preMatching = true)
    public Response authenticate(ContainerRequestContext request) {
        String path = request.getUriInfo().getPath();
        if (!path.startsWith("/v1/") && !path.equals("/v1")) {
            return null;
        }
        String header = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        String key = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7) : null;
        Caller caller = keys.resolve(key);
        if (caller == null) {
            return ApiProblem.of(401, "Unauthorized")
                    .detail(key == null ? "this gateway requires an API key: Authorization: Bearer <key>"
                            : "the API key is not valid")
                    .header(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"mav\"").build().getResponse();
        }
        request.setProperty(CALLER, caller);
        return null;
    }
}
