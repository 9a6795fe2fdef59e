"""Checks of deploy/ that no off-the-shelf tool makes: that the manifests, units and rules
agree with what `lethe` really offers (flags, subcommands, environment variables,
metrics), with each other (Secret keys, Service port, ServiceMonitor selector, the
image's user) and with the hardening docs/deploy.md promises. Run by check-deploy.sh
with .venv's Python (PyYAML comes with kubernetes-validate).

Usage: python3 scripts/check_deploy.py   (from anywhere; exits 1 on any problem)
"""
import pathlib
import re
import shlex
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"

# Metrics the alert rules may name although lethe does not export them yet. Each is a
# proposal, listed in docs/deploy.md; remove a name here once ServiceMetrics.swift has it.
PROPOSED_METRICS: set[str] = set()

problems: list[str] = []


def problem(where: str, text: str) -> None:
    problems.append(f"{where}: {text}")


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: "-" + m.group(1).lower(), name)


def cli_surface() -> tuple[set[str], set[str]]:
    """Every long flag and every subcommand name declared in Sources/LetheCLI."""
    flags, commands = {"--help", "--version"}, set()
    for path in (ROOT / "Sources" / "LetheCLI").rglob("*.swift"):
        text = path.read_text()
        for match in re.finditer(r"@(?:Option|Flag)\b.*?\bvar\s+(\w+)", text, re.S):
            flags.add("--" + kebab(match.group(1)))
        commands.update(re.findall(r'commandName:\s*"([\w-]+)"', text))
    return flags, commands


def environment_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "Sources").rglob("*.swift"):
        names.update(re.findall(r'"(LETHE_[A-Z_]+)"', path.read_text()))
    return names


def exported_metrics() -> set[str]:
    text = (ROOT / "Sources" / "LetheService" / "Serve" / "ServiceMetrics.swift").read_text()
    return set(re.findall(r'family\("(lethe_\w+)"', text))


FLAGS, COMMANDS = cli_surface()
ENV_NAMES = environment_names()


def check_command_line(where: str, args: list[str]) -> None:
    """args: what follows `lethe`. The subcommand must exist and every --flag too."""
    if not args or args[0] not in COMMANDS:
        problem(where, f"`lethe {' '.join(args)}`: no such subcommand (known: {', '.join(sorted(COMMANDS))})")
    for arg in args[1:]:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            if flag not in FLAGS:
                problem(where, f"`{flag}` is not a flag lethe declares (Sources/LetheCLI)")


def load(name: str) -> dict:
    return yaml.safe_load((K8S / name).read_text())


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def image_user() -> str:
    users = re.findall(r"^USER\s+(\S+)", (DEPLOY / "Dockerfile").read_text(), re.M)
    return users[-1].split(":")[0] if users else ""


def check_kubernetes() -> None:
    secret = load("secret.example.yaml")
    secret_keys = set(secret["stringData"])
    for key, value in secret["stringData"].items():
        if "PLACEHOLDER" not in value:
            problem("secret.example.yaml", f"{key} must hold an obvious PLACEHOLDER value")
        if key.endswith("_KEY") and len(value.encode()) >= 32:
            problem("secret.example.yaml", f"{key}'s placeholder must stay under 32 bytes, so lethe refuses it")
        if key not in ENV_NAMES:
            problem("secret.example.yaml", f"{key} is not an environment variable lethe reads")

    service = load("service.yaml")
    port_names = {port.get("name") for port in service["spec"]["ports"]}
    user = image_user()

    workloads = {
        "deployment.yaml": ["serve"],
        "cronjob-run.yaml": ["run", "--once"],
        "cronjob-sweep.yaml": ["sweep"],
        "cronjob-sweep-orphans.yaml": ["sweep", "--orphans"],
    }
    for name, expected in workloads.items():
        doc = load(name)
        spec = pod_spec(doc)
        pod_security = spec.get("securityContext", {})
        if pod_security.get("runAsNonRoot") is not True:
            problem(name, "pod securityContext.runAsNonRoot must be true")
        if str(pod_security.get("runAsUser")) != user:
            problem(name, f"runAsUser {pod_security.get('runAsUser')} is not the image's USER {user}")
        if spec.get("automountServiceAccountToken") is not False:
            problem(name, "automountServiceAccountToken must be false (lethe never calls the API)")
        for container in spec["containers"]:
            where = f"{name} container {container['name']}"
            security = container.get("securityContext", {})
            if security.get("readOnlyRootFilesystem") is not True:
                problem(where, "readOnlyRootFilesystem must be true")
            if security.get("allowPrivilegeEscalation") is not False:
                problem(where, "allowPrivilegeEscalation must be false")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                problem(where, "capabilities.drop must be [ALL]")
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                if "memory" not in resources.get(kind, {}):
                    problem(where, f"resources.{kind}.memory is missing")
            args = container.get("args", [])
            if args[: len(expected)] != expected:
                problem(where, f"args should start with {expected}, not {args}")
            check_command_line(where, args)
            for env in container.get("env", []):
                if env["name"] not in ENV_NAMES:
                    problem(where, f"{env['name']} is not an environment variable lethe reads")
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and (ref["name"] != secret["metadata"]["name"] or ref["key"] not in secret_keys):
                    problem(where, f"{env['name']} refers to {ref}, which the Secret template does not hold")
            mounts = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
            if "/etc/lethe/policies" not in mounts:
                problem(where, "the policies must be mounted at /etc/lethe/policies")
            if doc["kind"] == "Deployment":
                for probe in ("livenessProbe", "readinessProbe"):
                    expected = "/readyz" if probe == "readinessProbe" else "/healthz"
                    if container.get(probe, {}).get("httpGet", {}).get("path") != expected:
                        problem(where, f"{probe} must GET {expected}")
                if not any(arg.startswith("--listen=0.0.0.0:") for arg in args):
                    problem(where, "serve must listen on 0.0.0.0 to be reachable from the Service and probes")
        if doc["kind"] == "Deployment":
            labels = doc["spec"]["template"]["metadata"]["labels"]
            if not set(service["spec"]["selector"].items()) <= set(labels.items()):
                problem("service.yaml", "its selector does not match the Deployment's pods")

    # The ServiceMonitor is a custom resource: kubernetes-validate has no schema for it.
    monitor = load("servicemonitor.yaml")
    if (monitor.get("apiVersion"), monitor.get("kind")) != ("monitoring.coreos.com/v1", "ServiceMonitor"):
        problem("servicemonitor.yaml", "must be a monitoring.coreos.com/v1 ServiceMonitor")
    allowed = {"apiVersion", "kind", "metadata", "spec"}
    if set(monitor) - allowed:
        problem("servicemonitor.yaml", f"unexpected top-level keys {sorted(set(monitor) - allowed)}")
    match_labels = monitor["spec"]["selector"]["matchLabels"]
    if not set(match_labels.items()) <= set(service["metadata"]["labels"].items()):
        problem("servicemonitor.yaml", "spec.selector.matchLabels does not select the Service (by its labels)")
    endpoint_keys = {"port", "path", "interval", "scrapeTimeout", "scheme"}
    for endpoint in monitor["spec"]["endpoints"]:
        if set(endpoint) - endpoint_keys:
            problem("servicemonitor.yaml", f"unexpected endpoint keys {sorted(set(endpoint) - endpoint_keys)}")
        if endpoint.get("port") not in port_names:
            problem("servicemonitor.yaml", f"endpoint port {endpoint.get('port')} is not a named port of the Service")
        if endpoint.get("path") != "/metrics":
            problem("servicemonitor.yaml", "the endpoint path must be /metrics")

    # The ConfigMap ships the repository's policies as they are.
    data = load("configmap-policies.yaml")["data"]
    shipped = {path.name: path.read_text() for path in sorted((ROOT / "policies").glob("*.yaml"))}
    if data != shipped:
        problem("configmap-policies.yaml", "differs from policies/*.yaml: regenerate it (see its header)")


def check_systemd() -> None:
    env_file = DEPLOY / "systemd" / "lethe.env.example"
    for line in env_file.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            if name not in ENV_NAMES:
                problem(env_file.name, f"{name} is not an environment variable lethe reads")
            if "PLACEHOLDER" not in value:
                problem(env_file.name, f"{name} must hold an obvious PLACEHOLDER value")
    for unit in ("lethe.service", "lethe-run.service"):
        text = (DEPLOY / "systemd" / unit).read_text().replace("\\\n", " ")
        exec_start = re.search(r"^ExecStart=(.*)$", text, re.M)
        if not exec_start:
            problem(unit, "no ExecStart")
            continue
        words = shlex.split(exec_start.group(1))
        check_command_line(unit, words[1:])
        for setting in ("EnvironmentFile=/etc/lethe/lethe.env", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes"):
            if setting not in text.splitlines():
                problem(unit, f"missing {setting}")


def check_rules() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "lethe-rules.yml").read_text())
    exported = exported_metrics()
    if not exported:
        problem("ServiceMetrics.swift", "no metric families found: has the file moved?")
    for group in rules["groups"]:
        for rule in group["rules"]:
            where = f"lethe-rules.yml {rule.get('alert', rule.get('record'))}"
            for key in ("expr", "labels", "annotations"):
                if key not in rule:
                    problem(where, f"no {key}")
            if rule.get("labels", {}).get("severity") not in ("warning", "critical"):
                problem(where, "severity must be warning or critical")
            if "docs/deploy.md" not in rule.get("annotations", {}).get("description", ""):
                problem(where, "the description must point at docs/deploy.md")
            for name in sorted(set(re.findall(r"\blethe_[a-z0-9_]+", rule.get("expr", "")))):
                if name not in exported and name not in PROPOSED_METRICS:
                    problem(where, f"{name} is not exported by lethe (ServiceMetrics.swift) nor listed as proposed")
    for name in sorted(PROPOSED_METRICS & exported):
        problem("check_deploy.py", f"{name} is exported now: drop it from PROPOSED_METRICS")
    for name in sorted(PROPOSED_METRICS):
        print(f"note: the rules use {name}, which lethe does not export yet (proposed)")


def main() -> int:
    check_kubernetes()
    check_systemd()
    check_rules()
    for line in problems:
        print(f"problem: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
