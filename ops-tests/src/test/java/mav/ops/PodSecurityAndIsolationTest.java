package mav.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyEgressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the rendered overlays promise a cluster operator: every pod meets the Restricted Pod Security Standard
 * (and the namespace enforces it), no pod gets a Kubernetes token, the stages reach only Kafka and S3 and are
 * reached only by Prometheus, the gateway (the one door from outside) is reached by anyone on its port only and
 * keeps a replica serving through a drain, voluntary evictions take one stage pod at a time, GPU rollouts need no spare GPU,
 * models are pinned per stage, and only the setup job holds MinIO's root login.
 */
class PodSecurityAndIsolationTest {

    /** Volume types the Restricted standard allows. */
    private static final Set<String> RESTRICTED_VOLUMES = Set.of("configMap", "csi", "downwardAPI", "emptyDir",
            "ephemeral", "persistentVolumeClaim", "projected", "secret");

    /** Every pod template of the overlay, by "Kind/name". */
    static Map<String, PodSpec> pods(Manifests m) {
        Map<String, PodSpec> pods = new LinkedHashMap<>();
        for (Deployment d : m.all(Deployment.class)) {
            pods.put("Deployment/" + d.getMetadata().getName(), d.getSpec().getTemplate().getSpec());
        }
        for (Job j : m.all(Job.class)) {
            pods.put("Job/" + j.getMetadata().getName(), j.getSpec().getTemplate().getSpec());
        }
        return pods;
    }

    /** The Restricted standard's checks (kubernetes.io/docs/concepts/security/pod-security-standards), "latest". */
    static List<String> restrictedViolations(PodSpec pod) {
        List<String> v = new ArrayList<>();
        if (Boolean.TRUE.equals(pod.getHostNetwork()) || Boolean.TRUE.equals(pod.getHostPID())
                || Boolean.TRUE.equals(pod.getHostIPC())) {
            v.add("host namespaces");
        }
        PodSecurityContext psc = pod.getSecurityContext();
        boolean podNonRoot = psc != null && Boolean.TRUE.equals(psc.getRunAsNonRoot());
        String podSeccomp = psc == null || psc.getSeccompProfile() == null ? null : psc.getSeccompProfile().getType();
        if (psc != null) {
            if (Objects.equals(psc.getRunAsUser(), 0L)) {
                v.add("pod runAsUser 0");
            }
            if (psc.getSysctls() != null && !psc.getSysctls().isEmpty()) {
                v.add("sysctls (check them against the safe set)");
            }
            if (psc.getSeLinuxOptions() != null && (psc.getSeLinuxOptions().getUser() != null
                    || psc.getSeLinuxOptions().getRole() != null)) {
                v.add("SELinux user/role");
            }
            if (psc.getWindowsOptions() != null && Boolean.TRUE.equals(psc.getWindowsOptions().getHostProcess())) {
                v.add("hostProcess");
            }
        }
        if (podSeccomp != null && !Set.of("RuntimeDefault", "Localhost").contains(podSeccomp)) {
            v.add("pod seccompProfile " + podSeccomp);
        }
        for (Volume vol : pod.getVolumes() == null ? List.<Volume>of() : pod.getVolumes()) {
            String type = volumeType(vol);
            if (!RESTRICTED_VOLUMES.contains(type)) {
                v.add("volume " + vol.getName() + " of type " + type);
            }
        }
        List<Container> containers = new ArrayList<>(pod.getContainers());
        if (pod.getInitContainers() != null) {
            containers.addAll(pod.getInitContainers());
        }
        for (Container c : containers) {
            String at = "container " + c.getName() + ": ";
            for (ContainerPort p : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
                if (p.getHostPort() != null && p.getHostPort() != 0) {
                    v.add(at + "hostPort");
                }
            }
            SecurityContext sc = c.getSecurityContext();
            if (sc == null) {
                v.add(at + "no securityContext (allowPrivilegeEscalation, capabilities)");
                continue;
            }
            if (Boolean.TRUE.equals(sc.getPrivileged())) {
                v.add(at + "privileged");
            }
            if (!Boolean.FALSE.equals(sc.getAllowPrivilegeEscalation())) {
                v.add(at + "allowPrivilegeEscalation not false");
            }
            Capabilities caps = sc.getCapabilities();
            if (caps == null || caps.getDrop() == null || !caps.getDrop().contains("ALL")) {
                v.add(at + "capabilities do not drop ALL");
            }
            if (caps != null && caps.getAdd() != null && !Set.of("NET_BIND_SERVICE").containsAll(caps.getAdd())) {
                v.add(at + "adds capabilities " + caps.getAdd());
            }
            boolean nonRoot = sc.getRunAsNonRoot() != null ? sc.getRunAsNonRoot() : podNonRoot;
            if (!nonRoot) {
                v.add(at + "runAsNonRoot not true");
            }
            if (Objects.equals(sc.getRunAsUser(), 0L)) {
                v.add(at + "runAsUser 0");
            }
            String seccomp = sc.getSeccompProfile() != null ? sc.getSeccompProfile().getType() : podSeccomp;
            if (seccomp == null || !Set.of("RuntimeDefault", "Localhost").contains(seccomp)) {
                v.add(at + "seccompProfile " + seccomp);
            }
            if (sc.getProcMount() != null && !"Default".equals(sc.getProcMount())) {
                v.add(at + "procMount " + sc.getProcMount());
            }
        }
        return v;
    }

    private static String volumeType(Volume vol) {
        Map<String, Object> set = new LinkedHashMap<>();
        set.put("configMap", vol.getConfigMap());
        set.put("csi", vol.getCsi());
        set.put("downwardAPI", vol.getDownwardAPI());
        set.put("emptyDir", vol.getEmptyDir());
        set.put("ephemeral", vol.getEphemeral());
        set.put("persistentVolumeClaim", vol.getPersistentVolumeClaim());
        set.put("projected", vol.getProjected());
        set.put("secret", vol.getSecret());
        return set.entrySet().stream().filter(e -> e.getValue() != null).map(Map.Entry::getKey).findFirst()
                .orElse("another type (hostPath, nfs, ...)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void everyPodMeetsTheRestrictedStandardWhichTheNamespaceEnforces(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        Map<String, PodSpec> pods = pods(m);
        assertTrue(pods.size() >= 7, overlay + ": pods " + pods.keySet());
        List<String> violations = new ArrayList<>();
        pods.forEach((name, pod) -> restrictedViolations(pod).forEach(x -> violations.add(name + ": " + x)));
        assertEquals(List.of(), violations, overlay + ": Restricted pod security standard");

        Namespace ns = m.one(Namespace.class, "mav");
        assertEquals("restricted", ns.getMetadata().getLabels().get("pod-security.kubernetes.io/enforce"),
                overlay + ": namespace mav must enforce the Restricted standard (pods Strimzi creates included)");
        // Strimzi's pods are not in the manifests: its restricted provider is what makes them pass.
        String guide = Repo.read(Repo.root().resolve("docs/operations.md"));
        assertTrue(guide.contains("extraEnvs[0].name=STRIMZI_POD_SECURITY_PROVIDER_CLASS")
                        && guide.contains("extraEnvs[0].value=restricted"),
                "docs/operations.md must install Strimzi with its restricted pod security provider");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void noPodMountsAKubernetesTokenAndEachRunsAsItsOwnServiceAccount(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        Set<String> accounts = new TreeSet<>();
        for (ServiceAccount sa : m.all(ServiceAccount.class)) {
            assertEquals(Boolean.FALSE, sa.getAutomountServiceAccountToken(),
                    overlay + ": ServiceAccount " + sa.getMetadata().getName() + " automounts its token");
            accounts.add(sa.getMetadata().getName());
        }
        pods(m).forEach((name, pod) -> {
            assertEquals(Boolean.FALSE, pod.getAutomountServiceAccountToken(), overlay + ": " + name + " mounts a token");
            assertTrue(pod.getServiceAccountName() != null && accounts.contains(pod.getServiceAccountName()),
                    overlay + ": " + name + " runs as " + pod.getServiceAccountName() + ", not one of " + accounts);
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void everyContainerRequestsEphemeralStorageWithinItsLimit(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        pods(m).forEach((name, pod) -> {
            for (Container c : pod.getContainers()) {
                String where = overlay + ": " + name + "/" + c.getName();
                assertNotNull(c.getResources().getRequests().get("ephemeral-storage"), where + ": no ephemeral-storage request");
                assertNotNull(c.getResources().getLimits().get("ephemeral-storage"), where + ": no ephemeral-storage limit");
                assertTrue(io.fabric8.kubernetes.api.model.Quantity.getAmountInBytes(
                                c.getResources().getRequests().get("ephemeral-storage")).compareTo(
                                io.fabric8.kubernetes.api.model.Quantity.getAmountInBytes(
                                        c.getResources().getLimits().get("ephemeral-storage"))) <= 0,
                        where + ": ephemeral-storage request above its limit");
            }
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void everyStageHasADisruptionBudgetThatNeverBlocksADrain(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        for (Repo.Stage stage : Repo.stages()) {
            Deployment d = m.one(Deployment.class, stage.service());
            Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
            List<PodDisruptionBudget> pdbs = m.all(PodDisruptionBudget.class).stream()
                    .filter(p -> podLabels.entrySet().containsAll(p.getSpec().getSelector().getMatchLabels().entrySet()))
                    .toList();
            String where = overlay + ": " + stage.service();
            assertEquals(1, pdbs.size(), where + ": PodDisruptionBudgets selecting it");
            PodDisruptionBudget pdb = pdbs.get(0);
            // KEDA may run 0 or 1 replica: a minAvailable budget would forbid every eviction of a lone pod.
            assertNull(pdb.getSpec().getMinAvailable(), where + ": minAvailable blocks node drains at one replica");
            assertEquals("1", String.valueOf(pdb.getSpec().getMaxUnavailable().getValue()), where + ": maxUnavailable");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void stagesReachOnlyKafkaAndS3AndOnlyPrometheusReachesThem(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        for (Repo.Stage stage : Repo.stages()) {
            Deployment d = m.one(Deployment.class, stage.service());
            Map<String, String> labels = d.getSpec().getTemplate().getMetadata().getLabels();
            List<NetworkPolicy> policies = m.all(NetworkPolicy.class).stream()
                    .filter(p -> labels.entrySet().containsAll(p.getSpec().getPodSelector().getMatchLabels().entrySet()))
                    .toList();
            String where = overlay + ": " + stage.service();
            assertEquals(1, policies.size(), where + ": NetworkPolicies selecting it");
            NetworkPolicy p = policies.get(0);
            assertEquals(Set.of("Ingress", "Egress"), Set.copyOf(p.getSpec().getPolicyTypes()), where + ": policy types");

            assertEgressOnlyToKafkaS3AndDns(m, p, where);

            assertEquals(1, p.getSpec().getIngress().size(), where + ": ingress rules");
            var ingress = p.getSpec().getIngress().get(0);
            assertFalse(ingress.getFrom() == null || ingress.getFrom().isEmpty(), where + ": ingress from anywhere");
            assertTrue(ingress.getFrom().stream().allMatch(f -> f.getNamespaceSelector() != null
                            && "monitoring".equals(f.getNamespaceSelector().getMatchLabels().get("kubernetes.io/metadata.name"))
                            && f.getPodSelector() == null),
                    where + ": ingress from anywhere but the monitoring namespace");
            assertTrue(ingress.getPorts().stream().allMatch(port -> "http".equals(port.getPort().getStrVal())),
                    where + ": ingress on ports other than http (/q/metrics)");
        }
        NetworkPolicy minio = m.all(NetworkPolicy.class).stream()
                .filter(p -> "minio".equals(p.getSpec().getPodSelector().getMatchLabels().get("app.kubernetes.io/name")))
                .findFirst().orElseThrow(() -> new AssertionError(overlay + ": no NetworkPolicy for MinIO"));
        assertTrue(minio.getSpec().getEgress() == null || minio.getSpec().getEgress().isEmpty(),
                overlay + ": MinIO needs no egress");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void theGatewayKeepsOneReplicaServingThroughADrain(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        Deployment d = m.one(Deployment.class, Repo.gateway().service());
        Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
        List<PodDisruptionBudget> pdbs = m.all(PodDisruptionBudget.class).stream()
                .filter(p -> podLabels.entrySet().containsAll(p.getSpec().getSelector().getMatchLabels().entrySet()))
                .toList();
        String where = overlay + ": " + d.getMetadata().getName();
        assertEquals(1, pdbs.size(), where + ": PodDisruptionBudgets selecting it");
        PodDisruptionBudget pdb = pdbs.get(0);
        int replicas = d.getSpec().getReplicas();
        int unavailable = pdb.getSpec().getMaxUnavailable() != null ? pdb.getSpec().getMaxUnavailable().getIntVal()
                : replicas - pdb.getSpec().getMinAvailable().getIntVal();
        assertTrue(unavailable >= 1, where + ": the budget forbids every eviction, so it blocks node drains");
        assertTrue(unavailable < replicas, where + ": the budget lets a drain take all " + replicas + " replicas");
        var rolling = d.getSpec().getStrategy().getRollingUpdate();
        assertEquals(0, rolling.getMaxUnavailable().getIntVal(), where + ": a rollout must not lower serving replicas");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void onlyTheGatewayIsReachableFromOutsideAndOnlyOnItsPort(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        Deployment d = m.one(Deployment.class, Repo.gateway().service());
        Map<String, String> labels = d.getSpec().getTemplate().getMetadata().getLabels();
        String where = overlay + ": " + d.getMetadata().getName();
        List<NetworkPolicy> policies = m.all(NetworkPolicy.class).stream()
                .filter(p -> labels.entrySet().containsAll(p.getSpec().getPodSelector().getMatchLabels().entrySet()))
                .toList();
        assertEquals(1, policies.size(), where + ": NetworkPolicies selecting it");
        NetworkPolicy p = policies.get(0);
        assertEquals(Set.of("Ingress", "Egress"), Set.copyOf(p.getSpec().getPolicyTypes()), where + ": policy types");
        assertEgressOnlyToKafkaS3AndDns(m, p, where);
        assertEquals(1, p.getSpec().getIngress().size(), where + ": ingress rules");
        var ingress = p.getSpec().getIngress().get(0);
        assertTrue(ingress.getFrom() == null || ingress.getFrom().isEmpty(),
                where + ": the front door must admit clients from anywhere, not only " + ingress.getFrom());
        assertEquals(List.of("http"), ingress.getPorts().stream().map(port -> port.getPort().getStrVal()).toList(),
                where + ": ingress on ports other than http");
        assertEquals(Repo.gateway().port(), KustomizeOverlaysTest.containerPort(d,
                ingress.getPorts().get(0).getPort()).getContainerPort(), where + ": the admitted port");

        // Every other policy that admits traffic without naming its source would open more than the gateway.
        for (NetworkPolicy other : m.all(NetworkPolicy.class)) {
            if (other == p || other.getSpec().getIngress() == null) {
                continue;
            }
            for (var rule : other.getSpec().getIngress()) {
                assertFalse(rule.getFrom() == null || rule.getFrom().isEmpty(), overlay + ": NetworkPolicy "
                        + other.getMetadata().getName() + " admits ingress from anywhere; only the gateway may");
            }
        }
        NetworkPolicy minio = m.one(NetworkPolicy.class, "minio");
        assertTrue(minio.getSpec().getIngress().stream().flatMap(r -> r.getFrom().stream())
                        .anyMatch(f -> f.getPodSelector() != null && f.getNamespaceSelector() == null
                                && labels.entrySet().containsAll(f.getPodSelector().getMatchLabels().entrySet())),
                overlay + ": MinIO does not admit the gateway, which streams the videos from it");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void onlyTheSetupJobHoldsTheRootLoginAndTheStagesTheirOwnUser(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        assertTrue(m.all(Secret.class).isEmpty(), overlay + ": the kustomization renders Secrets, which `kubectl "
                + "apply -k` would write over the ones the operator created: " + m.all(Secret.class).stream()
                .map(s -> s.getMetadata().getName()).toList());
        Set<String> stageDeployments = new TreeSet<>();
        Repo.stages().forEach(st -> stageDeployments.add("Deployment/" + st.service()));
        pods(m).forEach((name, pod) -> {
            Set<String> secrets = new TreeSet<>();
            for (Container c : pod.getContainers()) {
                Stream.ofNullable(c.getEnvFrom()).flatMap(List::stream).filter(e -> e.getSecretRef() != null)
                        .forEach(e -> secrets.add(e.getSecretRef().getName()));
                for (EnvVar e : c.getEnv() == null ? List.<EnvVar>of() : c.getEnv()) {
                    if (e.getValueFrom() != null && e.getValueFrom().getSecretKeyRef() != null) {
                        secrets.add(e.getValueFrom().getSecretKeyRef().getName());
                    }
                }
            }
            boolean mayHoldRoot = name.equals("Deployment/minio") || name.equals("Job/minio-setup");
            assertEquals(mayHoldRoot, secrets.contains("mav-minio-root"), overlay + ": " + name + " and the root login");
            if (stageDeployments.contains(name)) {
                assertEquals(Set.of("mav-s3"), secrets, overlay + ": " + name + " secrets");
            }
            if (name.equals("Deployment/" + Repo.gateway().service())) {
                // The stages' S3 user (it reads and deletes videos in the bucket mav) and its API keys.
                assertEquals(Set.of("mav-s3", "mav-gateway-keys"), secrets, overlay + ": " + name + " secrets");
            }
        });
        Job setup = m.one(Job.class, "minio-setup");
        String script = String.join("\n", setup.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs());
        for (String step : List.of("mc admin policy create", "mc admin user add", "mc admin policy attach")) {
            assertTrue(script.contains(step), overlay + ": the setup job does not run " + step);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void everyStagePinsItsModelVersion(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        assertFalse(m.one(io.fabric8.kubernetes.api.model.ConfigMap.class, "mav-config").getData()
                .containsKey("MAV_MODELS_VERSION"), overlay + ": a cluster-wide MAV_MODELS_VERSION in mav-config");
        for (Repo.Stage stage : Repo.stages()) {
            Container c = m.one(Deployment.class, stage.service()).getSpec().getTemplate().getSpec().getContainers().get(0);
            String version = c.getEnv().stream().filter(e -> e.getName().equals("MAV_MODELS_VERSION"))
                    .map(EnvVar::getValue).findFirst().orElse(null);
            assertNotNull(version, overlay + ": " + stage.service() + " does not pin MAV_MODELS_VERSION");
            assertTrue(version.matches("[1-9][0-9]*"), overlay + ": " + stage.service() + " loads model version "
                    + version + "; pin a number, not latest");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void gpuStagesRollWithoutASparePodAndGraceCoversTheJobDeadline(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        Map<String, String> config = m.one(ConfigMap.class, "mav-config").getData();
        int maxJobSeconds = Integer.parseInt(config.getOrDefault("MAV_MAX_JOB_SECONDS",
                Repo.sharedDefaults().getProperty("mav.max-job-seconds")).trim());
        int drainSeconds = Integer.parseInt(config.getOrDefault("MAV_DRAIN_SECONDS",
                Repo.sharedDefaults().getProperty("mav.drain-seconds")).trim());
        assertEquals(maxJobSeconds, drainSeconds, overlay + ": a draining stage should let any job that may still "
                + "finish (MAV_MAX_JOB_SECONDS) finish (MAV_DRAIN_SECONDS)");
        for (Repo.Stage stage : Repo.stages()) {
            Deployment d = m.one(Deployment.class, stage.service());
            String where = overlay + ": " + stage.service();
            var rolling = d.getSpec().getStrategy().getRollingUpdate();
            if (overlay.equals("gpu") && stage.gpu()) {
                assertEquals(0, rolling.getMaxSurge().getIntVal(), where + ": a surge pod needs a spare GPU");
                assertEquals(1, rolling.getMaxUnavailable().getIntVal(), where + ": maxUnavailable");
            }
            long grace = d.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds();
            assertTrue(grace >= drainSeconds + 30, where + ": terminationGracePeriodSeconds " + grace
                    + " leaves under 30 s after the drain deadline " + drainSeconds + " s for the commit and the exit");
        }
    }

    /** Egress of {@code p}: to the Kafka brokers on 9092, to MinIO on 9000, to DNS, nothing else. */
    static void assertEgressOnlyToKafkaS3AndDns(Manifests m, NetworkPolicy p, String where) {
        Set<String> egress = new TreeSet<>();
        for (NetworkPolicyEgressRule rule : p.getSpec().getEgress()) {
            for (NetworkPolicyPeer peer : rule.getTo()) {
                assertNull(peer.getIpBlock(), where + ": egress to an ipBlock");
                assertNotNull(peer.getPodSelector(), where + ": egress to whole namespaces");
                for (NetworkPolicyPort port : rule.getPorts()) {
                    egress.add(peer.getPodSelector().getMatchLabels() + ":" + port.getPort().getValue());
                }
            }
        }
        Map<String, String> minioLabels = m.one(Deployment.class, "minio").getSpec().getTemplate().getMetadata()
                .getLabels();
        assertTrue(egress.stream().anyMatch(e -> e.contains("strimzi.io/cluster=mav") && e.endsWith(":9092")),
                where + ": no egress to the Kafka brokers: " + egress);
        assertTrue(egress.stream().anyMatch(e -> e.contains("app.kubernetes.io/name=" + minioLabels
                .get("app.kubernetes.io/name")) && e.endsWith(":9000")), where + ": no egress to MinIO: " + egress);
        assertTrue(egress.stream().allMatch(e -> e.endsWith(":9092") || e.endsWith(":9000") || e.endsWith(":53")),
                where + ": egress beyond Kafka, S3 and DNS: " + egress);
    }
}
