"""Helm without the helm binary: Helm's own Go SDK (v4) through helm-python-sdk from PyPI,
which scripts/test-k8s installs. Helm itself is in no registry reachable here.

    python helm.py lint CHART                 lint strictly; exit 1 on any error or warning
    python helm.py render CHART [VALUES_JSON] validate the values against values.schema.json,
                                              render like `helm template tributary CHART`
"""
import json
import sys

import helm_python as helm


def lint(chart):
    report = helm.lint(chart, strict=True)
    failed = list(report.get("errors") or [])
    for message in report.get("messages") or []:
        # Severity 1 is informational ("icon is recommended"); 2 and up are warnings and errors.
        print(f"{message['path']}: {message['error']} (severity {message['severity']})", file=sys.stderr)
        if message["severity"] >= 2:
            failed.append(message["error"])
    return 1 if failed else 0


def render(chart, values):
    with helm.Chart.load(chart) as loaded:
        loaded.validate_schema(values)
        manifests = loaded.render(values, name="tributary", namespace="tributary")
    for name, text in sorted(manifests.items()):
        if name.endswith("NOTES.txt") or not text.strip():
            continue
        print(f"---\n# Source: {name}\n{text.strip()}")
    return 0


if __name__ == "__main__":
    command, chart = sys.argv[1], sys.argv[2]
    if command == "lint":
        sys.exit(lint(chart))
    sys.exit(render(chart, json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}))
