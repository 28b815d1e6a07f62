"""Checks of rendered Kubernetes manifests, for scripts/test-k8s.

    python k8s_manifests.py same A.yaml B.yaml     the two renders make the same objects with
                                                   the same settings (exit 1 with the differences)
    python k8s_manifests.py without-new-apis IN OUT  copies IN without the objects whose API
                                                   Kubernetes 1.20 lacks (policy/v1,
                                                   autoscaling/v2); prints what it left out
    python k8s_manifests.py names IN               prints kind/name of every object, sorted
"""
import re
import sys
import tomllib

import yaml


def documents(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def key(doc):
    # A generated ConfigMap's name carries a hash of its content (kustomize); the chart's not.
    name = re.sub(r"-config(-[a-z0-9]{10})?$", "-config", doc["metadata"]["name"])
    return doc["kind"], name


def pod_settings(pod):
    """What a pod template sets, without labels and generated names."""
    spec = pod["spec"]
    containers = []
    for c in spec["containers"]:
        containers.append({
            "name": c["name"],
            "image": c["image"],
            "args": c.get("args"),
            "env": sorted((e["name"], yaml.safe_dump(e.get("valueFrom", e.get("value")))) for e in c.get("env", [])),
            "envFrom": c.get("envFrom"),
            "ports": sorted((p["name"], p["containerPort"], p.get("protocol")) for p in c.get("ports", [])),
            "probes": {k: c[k] for k in ("startupProbe", "livenessProbe", "readinessProbe") if k in c},
            "resources": c.get("resources"),
            "securityContext": c.get("securityContext"),
            "volumeMounts": sorted((m["name"], m["mountPath"], m.get("readOnly", False)) for m in c.get("volumeMounts", [])),
        })
    return {
        "containers": containers,
        "securityContext": spec.get("securityContext"),
        "serviceAccountName": spec.get("serviceAccountName"),
        "automountServiceAccountToken": spec.get("automountServiceAccountToken"),
        "enableServiceLinks": spec.get("enableServiceLinks"),
        "terminationGracePeriodSeconds": spec.get("terminationGracePeriodSeconds"),
        "volumes": sorted(v["name"] + ":" + ",".join(sorted(set(v) - {"name"})) for v in spec.get("volumes", [])),
        "annotations": {k: v for k, v in pod["metadata"].get("annotations", {}).items() if k.startswith("prometheus.io/")},
        "component": pod["metadata"]["labels"].get("app.kubernetes.io/component"),
    }


def settings(doc):
    kind, spec = doc["kind"], doc.get("spec", {})
    if kind == "ConfigMap":
        return {name: tomllib.loads(text) for name, text in doc["data"].items()}
    if kind in ("Deployment", "StatefulSet"):
        return {
            "replicas": spec.get("replicas"),
            "strategy": spec.get("strategy"),
            "podManagementPolicy": spec.get("podManagementPolicy"),
            "claims": [(c["metadata"]["name"], c["spec"]["resources"]["requests"]["storage"]) for c in spec.get("volumeClaimTemplates", [])],
            "pod": pod_settings(spec["template"]),
        }
    if kind == "Service":
        return {"ports": spec["ports"], "component": spec["selector"].get("app.kubernetes.io/component")}
    if kind == "HorizontalPodAutoscaler":
        return {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas", "metrics")}
    if kind == "PodDisruptionBudget":
        return {"minAvailable": spec.get("minAvailable"), "component": spec["selector"]["matchLabels"].get("app.kubernetes.io/component")}
    return {k: v for k, v in doc.items() if k not in ("metadata", "apiVersion", "kind")}


def same(a_path, b_path):
    a = {key(d): d for d in documents(a_path)}
    b = {key(d): d for d in documents(b_path)}
    problems = []
    for k in sorted(set(a) ^ set(b)):
        problems.append(f"{k[0]}/{k[1]} only in {a_path if k in a else b_path}")
    for k in sorted(set(a) & set(b)):
        if a[k]["apiVersion"] != b[k]["apiVersion"]:
            problems.append(f"{k[0]}/{k[1]}: apiVersion {a[k]['apiVersion']} vs {b[k]['apiVersion']}")
        sa, sb = settings(a[k]), settings(b[k])
        if sa != sb:
            problems.append(f"{k[0]}/{k[1]} differs:\n  {sa}\n  {sb}")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


NEW_APIS = {"policy/v1", "autoscaling/v2"}


def without_new_apis(src, dst):
    kept = []
    for d in documents(src):
        if d["apiVersion"] in NEW_APIS:
            print(f"{d['kind']}/{d['metadata']['name']} ({d['apiVersion']})")
        else:
            kept.append(d)
    with open(dst, "w") as f:
        yaml.safe_dump_all(kept, f)
    return 0


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "same":
        sys.exit(same(sys.argv[2], sys.argv[3]))
    if command == "without-new-apis":
        sys.exit(without_new_apis(sys.argv[2], sys.argv[3]))
    if command == "names":
        for kind, name in sorted((d["kind"], d["metadata"]["name"]) for d in documents(sys.argv[2])):
            print(f"{kind.lower()}/{name}")
        sys.exit(0)
    sys.exit(f"unknown command {command}")
