package mav.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import io.kubernetes.client.openapi.models.V1ConfigMap;
import io.kubernetes.client.openapi.models.V1Deployment;
import io.kubernetes.client.openapi.models.V1Job;
import io.kubernetes.client.openapi.models.V1Namespace;
import io.kubernetes.client.openapi.models.V1NetworkPolicy;
import io.kubernetes.client.openapi.models.V1PersistentVolumeClaim;
import io.kubernetes.client.openapi.models.V1PodDisruptionBudget;
import io.kubernetes.client.openapi.models.V1Secret;
import io.kubernetes.client.openapi.models.V1Service;
import io.kubernetes.client.openapi.models.V1ServiceAccount;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every core object of both overlays against Kubernetes' own OpenAPI schema, as the official Java client
 * (io.kubernetes:client-java-api) generates it: required fields present, no field the schema does not define,
 * nested objects checked the same way. (Manifests parses the same objects strictly into the fabric8 models too.)
 */
class CoreObjectSchemaTest {

    /** A validator generated from Kubernetes' OpenAPI for one kind. */
    @FunctionalInterface
    interface Validator {
        void validate(JsonElement json) throws IOException;
    }

    /** kind/apiVersion to the client's generated validator. */
    static final Map<String, Validator> VALIDATORS = Map.of(
            "Namespace/v1", V1Namespace::validateJsonElement,
            "ConfigMap/v1", V1ConfigMap::validateJsonElement,
            "Secret/v1", V1Secret::validateJsonElement,
            "Service/v1", V1Service::validateJsonElement,
            "ServiceAccount/v1", V1ServiceAccount::validateJsonElement,
            "PersistentVolumeClaim/v1", V1PersistentVolumeClaim::validateJsonElement,
            "Deployment/apps/v1", V1Deployment::validateJsonElement,
            "Job/batch/v1", V1Job::validateJsonElement,
            "PodDisruptionBudget/policy/v1", V1PodDisruptionBudget::validateJsonElement,
            "NetworkPolicy/networking.k8s.io/v1", V1NetworkPolicy::validateJsonElement);

    static String problem(JsonNode doc) {
        Validator v = VALIDATORS.get(doc.path("kind").asText() + "/" + doc.path("apiVersion").asText());
        if (v == null) {
            return Manifests.describe(doc) + ": no Kubernetes schema for " + doc.path("apiVersion").asText();
        }
        try {
            v.validate(JsonParser.parseString(doc.toString()));
            return null;
        } catch (IOException | IllegalArgumentException e) {
            String message = String.valueOf(e.getMessage());
            return Manifests.describe(doc) + ": " + (message.length() > 300 ? message.substring(0, 300) + "…" : message);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void everyCoreObjectValidatesAgainstKubernetesOwnSchema(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        List<String> problems = new ArrayList<>();
        int checked = 0;
        for (JsonNode doc : m.documents) {
            if (Manifests.CUSTOM.containsKey(doc.path("kind").asText())) {
                continue;
            }
            String p = problem(doc);
            if (p != null) {
                problems.add(p);
            }
            checked++;
        }
        assertEquals(List.of(), problems, overlay + ": objects Kubernetes' schema rejects");
        assertEquals(m.core.size(), checked, overlay + ": core objects checked");
    }

    /** The generated validators reject what the API server would. */
    @Test
    void kubernetesSchemaRejectsMisspeltAndMissingFields() {
        String misspelt = """
                {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":
                {"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i:1.0",
                "imagePullPolcy":"Always"}]}}}}""";
        String noSelector = """
                {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":
                {"containers":[{"name":"c","image":"i:1.0"}]}}}}""";
        String noContainerName = """
                {"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"template":{"spec":
                {"containers":[{"image":"i:1.0"}]}}}}""";
        for (String bad : List.of(misspelt, noSelector, noContainerName)) {
            assertFalse(problem(Manifests.parseAll(bad).get(0)) == null, "accepted: " + bad);
        }
        String good = """
                {"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"p"},"spec":
                {"maxUnavailable":1,"selector":{"matchLabels":{"a":"b"}}}}""";
        assertTrue(problem(Manifests.parseAll(good).get(0)) == null, problem(Manifests.parseAll(good).get(0)));
    }
}
