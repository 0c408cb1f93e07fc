import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// `deploy/kubernetes/`: no Kubernetes here, so the manifests are checked field by field
    /// (with PyYAML) for what a cluster would refuse or get wrong, and the pipeline configs the
    /// ConfigMap carries must pass `sluice check`.
    @Suite struct KubernetesManifests {
        static let checker = #"""
            import json, os, sys
            try:
                import yaml
            except ImportError:
                print("MISSING pyyaml", file=sys.stderr); sys.exit(3)

            root = sys.argv[1]
            problems, configs = [], {}
            def problem(text): problems.append(text)
            def size(text):
                units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
                for u, f in units.items():
                    if text.endswith(u): return int(text[:-2]) * f
                return int(text)

            documents = []
            for name in sorted(os.listdir(root)):
                if name.endswith(".yaml"):
                    with open(os.path.join(root, name)) as f:
                        for d in yaml.safe_load_all(f):
                            if d: documents.append((name, d))
            kustomization = [d for n, d in documents if d.get("kind") == "Kustomization"]
            listed = set(kustomization[0]["resources"]) if kustomization else set()
            maps = {}
            for name, d in documents:
                for key in ("apiVersion", "kind"):
                    if not d.get(key): problem(f"{name}: no {key}")
                if d.get("kind") == "Kustomization": continue
                if name not in listed: problem(f"{name}: not listed in kustomization.yaml")
                if not d.get("metadata", {}).get("name"): problem(f"{name}: no metadata.name")
                if d.get("kind") == "ConfigMap":
                    maps[d["metadata"]["name"]] = d.get("data", {})
                    for key, text in d.get("data", {}).items(): configs[key] = text
            expected = {"DaemonSet": "apps/v1", "Deployment": "apps/v1", "ConfigMap": "v1"}
            kinds = {d["kind"] for _, d in documents}
            for kind in ("DaemonSet", "Deployment", "ConfigMap"):
                if kind not in kinds: problem(f"no {kind}")
            for name, d in documents:
                kind = d.get("kind")
                if kind in expected and d.get("apiVersion") != expected[kind]: problem(f"{name}: {kind} is {expected[kind]}, not {d.get('apiVersion')}")
                if kind not in ("DaemonSet", "Deployment"): continue
                spec = d["spec"]
                selector = spec["selector"]["matchLabels"]
                labels = spec["template"]["metadata"]["labels"]
                if any(labels.get(k) != v for k, v in selector.items()): problem(f"{name}: selector {selector} does not match the template's labels {labels}")
                pod = spec["template"]["spec"]
                volumes = {v["name"]: v for v in pod.get("volumes", [])}
                for c in pod["containers"]:
                    if not c.get("image"): problem(f"{name}: container {c.get('name')} has no image")
                    args = c.get("args", [])
                    if args[:2] != ["run", "--config"] or len(args) != 3: problem(f"{name}: args must be run --config FILE, not {args}")
                    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
                    for probe, path in (("livenessProbe", "/live"), ("readinessProbe", "/ready")):
                        get = c.get(probe, {}).get("httpGet", {})
                        if get.get("path") != path: problem(f"{name}: {probe} must GET {path}")
                        if get.get("port") not in ports and get.get("port") not in ports.values(): problem(f"{name}: {probe} port {get.get('port')} is not a container port")
                    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
                    for m in mounts.values():
                        if m not in volumes: problem(f"{name}: volumeMount {m} has no volume")
                    config_path = args[2] if len(args) == 3 else ""
                    directory, key = os.path.dirname(config_path), os.path.basename(config_path)
                    volume = volumes.get(mounts.get(directory, ""), {})
                    map_name = volume.get("configMap", {}).get("name")
                    if map_name not in maps or key not in maps[map_name]:
                        problem(f"{name}: {config_path} is not a key of a mounted ConfigMap"); continue
                    config = yaml.safe_load(maps[map_name][key])
                    settings = config.get("settings", {})
                    admin = str(settings.get("admin", ""))
                    if not admin.startswith("0.0.0.0:") or int(admin.split(":")[1]) not in ports.values():
                        problem(f"{name}: the admin API ({admin or 'default 127.0.0.1'}) must listen on 0.0.0.0 at a container port for the probes")
                    pool = settings.get("pool-capacity", 4096) * settings.get("event-size", 4096) + 8 * (1 << 20)
                    requests = c.get("resources", {}).get("requests", {})
                    limits = c.get("resources", {}).get("limits", {})
                    if size(requests.get("memory", "0")) < pool: problem(f"{name}: memory request {requests.get('memory')} below the pool ({pool} B)")
                    if size(limits.get("memory", "0")) < size(requests.get("memory", "0")): problem(f"{name}: memory limit below the request")
                    env = {e["name"]: e for e in c.get("env", [])}
                    for p in config.get("pipelines", {}).values():
                        outputs = p.get("outputs", [p["output"]] if "output" in p else [])
                        for o in outputs:
                            prefix = str(o.get("id-prefix", ""))
                            if prefix.startswith("env:") and prefix[4:] not in env: problem(f"{name}: id-prefix {prefix} but no such env")
                        for path in (p["input"].get("path") or []) + [p["input"].get("offsets", "")]:
                            if path and not any(path.startswith(m + "/") for m in mounts): problem(f"{name}: {path} is on no mounted volume")
            print(json.dumps({"problems": problems, "configs": configs}))
            """#

        @Test func theManifestsHangTogetherAndTheirPipelinesPassSluiceCheck() throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/kubernetes").standardized.path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", Self.checker, root]
            let output = Pipe(), errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            let answer = output.fileHandleForReading.readDataToEndOfFile()
            let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(!problems.contains("MISSING pyyaml"), "the Python module PyYAML is missing: pip install pyyaml")
            try #require(process.terminationStatus == 0, "\(problems)")
            let json = try #require(try JSONSerialization.jsonObject(with: answer) as? [String: Any])
            #expect((json["problems"] as? [String]) == [], "\(json["problems"] ?? "")")
            let configs = try #require(json["configs"] as? [String: String])
            #expect(Set(configs.keys) == ["edge.yaml", "aggregator.yaml"])
            let directory = try TemporaryDirectory()
            setenv("NODE_NAME", "node-1", 1)  // the DaemonSet sets it from spec.nodeName
            for (name, text) in configs {
                let path = directory.path(name)
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                let check = try SluiceProcess(["check", "--config", path], in: directory)
                #expect(try check.waitForExit(within: .seconds(30)) == .exited(0), "\(name): \(check.standardErrorTail())")
            }
        }
    }
}
