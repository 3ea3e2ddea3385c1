package mav.gateway;

import jakarta.ws.rs.core.Response;
import mav.common.store.BlobStoreException;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** The object store did not answer: a 503 problem the client may retry, with the store's message (bucket, key). */
public class StoreUnavailableMapper {

    @ServerExceptionMapper
    public Response unavailable(BlobStoreException e) {
        return ApiProblem.of(Response.Status.SERVICE_UNAVAILABLE, "Service Unavailable").detail(e.getMessage())
                .header("Retry-After", "10").build().getResponse();
    }
}
