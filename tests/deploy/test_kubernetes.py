"""deploy/kubernetes/: the manifests parse, validate against the operator's CRDs and agree with cluster.py."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from lia_dask import cluster

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
pytest.importorskip("dask_kubernetes")


def _load(name: str) -> dict:
    docs = list(yaml.safe_load_all((K8S / name).read_text()))
    assert len(docs) == 1, f"{name} should hold one resource"
    return docs[0]


# Stand-in for the Kubernetes core schemas the CRDs reference (k8s_crd_resolver is not installed):
# the parts of PodSpec / ServiceSpec a DaskCluster needs, strict enough to catch a typo in a key.
_CONTAINER = {
    "type": "object", "required": ["name", "image"],
    "properties": {
        "name": {"type": "string"}, "image": {"type": "string"}, "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        "args": {"type": "array", "items": {"type": "string"}}, "command": {"type": "array", "items": {"type": "string"}},
        "env": {"type": "array", "items": {"type": "object", "required": ["name"],
                                           "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}},
        "envFrom": {"type": "array", "items": {"type": "object", "properties": {
            "secretRef": {"type": "object", "required": ["name"],
                          "properties": {"name": {"type": "string"}, "optional": {"type": "boolean"}}}}}},
        "resources": {"type": "object", "additionalProperties": False, "properties": {
            "requests": {"type": "object", "additionalProperties": {"type": "string"}},
            "limits": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "ports": {"type": "array"}, "livenessProbe": {"type": "object"}, "readinessProbe": {"type": "object"},
    },
    "additionalProperties": False,
}
_POD_SPEC = {"type": "object", "required": ["containers"],
             "properties": {"containers": {"type": "array", "minItems": 1, "items": _CONTAINER},
                            "restartPolicy": {"enum": ["Always", "OnFailure", "Never"]}},
             "additionalProperties": False}
_SERVICE_SPEC = {"type": "object", "properties": {"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                                                  "ports": {"type": "array"}, "selector": {"type": "object"}}}


def _crd_schema(name: str) -> dict:
    """The openAPIV3Schema of the operator's CRD ``name`` with its $refs resolved."""
    import dask_kubernetes

    base = Path(dask_kubernetes.__file__).parent / "operator" / "customresources"
    templates = yaml.safe_load((base / "templates.yaml").read_text())["definitions"]
    crd = yaml.safe_load((base / name).read_text())

    def resolve(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                target = ref.rsplit("/", 1)[-1]
                if target.endswith("PodSpec"):
                    return _POD_SPEC
                if target.endswith("ServiceSpec"):
                    return _SERVICE_SPEC
                return resolve(copy.deepcopy(templates[target]))
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


@pytest.mark.parametrize("manifest, crd", [("daskcluster.yaml", "daskcluster.yaml"), ("daskjob.yaml", "daskjob.yaml"),
                                           ("daskautoscaler.yaml", "daskautoscaler.yaml")])
def test_manifests_validate_against_the_operator_crds(manifest, crd):
    import jsonschema

    doc = _load(manifest)
    assert doc["apiVersion"] == "kubernetes.dask.org/v1"
    jsonschema.validate(doc, _crd_schema(crd))


def test_validation_catches_a_bad_manifest():
    import jsonschema

    doc = _load("daskcluster.yaml")
    doc["spec"]["worker"]["spec"]["containers"][0]["resource"] = doc["spec"]["worker"]["spec"]["containers"][0].pop("resources")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, _crd_schema("daskcluster.yaml"))


def test_daskcluster_manifest_is_what_cluster_py_creates():
    assert _load("daskcluster.yaml") == cluster.kubernetes_spec()


def test_daskjob_runs_lia_dask_predict_on_object_storage_with_the_same_cluster():
    from lia_dask.cli import build_parser

    job = _load("daskjob.yaml")
    spec = cluster.kubernetes_spec()
    assert job["spec"]["cluster"]["spec"] == spec["spec"]
    [c] = job["spec"]["job"]["spec"]["containers"]
    assert c["image"] == cluster.DEFAULT_IMAGE
    assert c["args"][0] == "job"  # entrypoint -> lia-dask
    args = build_parser().parse_args(c["args"][1:])
    assert args.command == "predict" and args.cluster is None  # the operator's DASK_SCHEDULER_ADDRESS is used
    assert all(p.startswith("s3://") for p in (args.archive, args.model, args.out))
    assert c["envFrom"] == [{"secretRef": {"name": cluster.KUBERNETES_DEFAULTS["env_from_secret"], "optional": True}}]


def test_autoscaler_and_secret_refer_to_the_cluster_and_the_pods():
    auto = _load("daskautoscaler.yaml")
    assert auto["spec"]["cluster"] == cluster.KUBERNETES_DEFAULTS["name"]
    assert 0 < auto["spec"]["minimum"] <= auto["spec"]["maximum"]
    secret = _load("storage-secret.example.yaml")
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == cluster.KUBERNETES_DEFAULTS["env_from_secret"]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"} <= set(secret["stringData"])


def test_readme_commands_name_the_files_and_resources_that_exist():
    readme = (K8S / "README.md").read_text()
    for name in ("daskcluster.yaml", "daskjob.yaml", "daskautoscaler.yaml", "storage-secret.example.yaml"):
        assert f"deploy/kubernetes/{name}" in readme
    job = _load("daskjob.yaml")["metadata"]["name"]
    assert f"pod/{job}-runner" in readme and f"svc/{cluster.KUBERNETES_DEFAULTS['name']}-scheduler" in readme
    assert "helm install" in readme and "dask/dask-kubernetes-operator" in readme
