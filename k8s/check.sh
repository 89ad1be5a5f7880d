#!/usr/bin/env bash
# Checks the manifests without a cluster: yamllint over k8s/, then every overlay rendered with `kubectl kustomize`,
# validated strictly against the Kubernetes schemas (kubernetes-validate) and scanned by checkov (k8s/checkov.yaml
# lists each skipped check with its reason). Tools come from PATH, or from K8S_TOOLS (a directory, e.g. a venv's bin).
# Without kubectl the render steps are skipped with a warning, unless ESTUARY_REQUIRE_KUBECTL=1.
set -euo pipefail
cd "$(dirname "$0")"
if [ -n "${K8S_TOOLS:-}" ]; then PATH="$K8S_TOOLS:$PATH"; fi
for tool in yamllint kubernetes-validate checkov; do
    command -v "$tool" >/dev/null || { echo "k8s/check.sh: $tool is missing (pip install $tool)" >&2; exit 1; }
done

yamllint -c .yamllint --strict .
echo "yamllint: ok"

if ! command -v kubectl >/dev/null; then
    if [ "${ESTUARY_REQUIRE_KUBECTL:-0}" = 1 ]; then
        echo "k8s/check.sh: kubectl is missing" >&2
        exit 1
    fi
    echo "k8s/check.sh: WARNING: no kubectl; overlays not rendered, validated or scanned" >&2
    exit 0
fi
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
for overlay in overlays/*/; do
    name=$(basename "$overlay")
    kubectl kustomize "$overlay" >"$rendered/$name.yaml"
    kubernetes-validate --strict --quiet "$rendered/$name.yaml"
    checkov --config-file checkov.yaml -f "$rendered/$name.yaml"
    echo "overlay $name: rendered, valid (strict), checkov clean"
done
