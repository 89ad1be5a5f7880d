import EstuaryTestSupport
import Foundation
import Synchronization
import Yams

/// The rendered Kubernetes manifests (`kubectl kustomize`), read the way the kubelet reads them: each workload's pod
/// template with its containers' command, args, env (values, `fieldRef`, `secretKeyRef`, `$(VAR)` expansion),
/// ports and volume mounts, and the ConfigMaps and Secrets they name.
struct RenderedManifests: Sendable {
    /// One `env` entry: where its value comes from.
    enum EnvSource: Sendable {
        case value(String)
        case field(String)
        case secret(name: String, key: String)
        case configMap(name: String, key: String)
    }

    struct Container: Sendable {
        var name: String
        var command: [String]
        var args: [String]
        var env: [(name: String, source: EnvSource)]
        var ports: [String: Int]
        var mounts: [(path: String, volume: String)]
        var readiness: (path: String, port: Int)?
    }

    struct Workload: Sendable {
        var kind: String
        var name: String
        var replicas: Int
        var containers: [Container]
        /// Volume name → what backs it: `configMap:NAME`, `emptyDir`, or `claim` (a volumeClaimTemplate).
        var volumes: [String: String]
    }

    var namespace = "default"
    var configMaps: [String: [String: String]] = [:]
    var secrets: [String: [String: String]] = [:]
    var workloads: [Workload] = []
    var services: [String] = []

    /// Renders `overlay` with kubectl and reads it.
    static func render(overlay: String) throws -> RenderedManifests {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["kubectl", "kustomize", overlay]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("kubectl kustomize \(overlay) failed") }
        return try parse(String(decoding: data, as: UTF8.self))
    }

    static func envEntry(_ item: Any) -> (name: String, source: EnvSource)? {
        guard let entry = item as? [String: Any], let name = entry["name"] as? String else { return nil }
        guard let from = entry["valueFrom"] as? [String: Any] else { return (name, .value(entry["value"] as? String ?? "")) }
        if let field = (from["fieldRef"] as? [String: Any])?["fieldPath"] as? String { return (name, .field(field)) }
        if let secret = from["secretKeyRef"] as? [String: Any] {
            return (name, .secret(name: secret["name"] as? String ?? "", key: secret["key"] as? String ?? ""))
        }
        if let map = from["configMapKeyRef"] as? [String: Any] {
            return (name, .configMap(name: map["name"] as? String ?? "", key: map["key"] as? String ?? ""))
        }
        return (name, .value(""))
    }

    static func parse(_ text: String) throws -> RenderedManifests {
        var manifests = RenderedManifests()
        for case let document as [String: Any] in try Yams.load_all(yaml: text) {
            let kind = document["kind"] as? String ?? ""
            let metadata = document["metadata"] as? [String: Any] ?? [:]
            let name = metadata["name"] as? String ?? ""
            if let namespace = metadata["namespace"] as? String { manifests.namespace = namespace }
            switch kind {
            case "ConfigMap":
                manifests.configMaps[name] = document["data"] as? [String: String] ?? [:]
            case "Secret":
                let data = document["data"] as? [String: String] ?? [:]
                manifests.secrets[name] = data.compactMapValues { Data(base64Encoded: $0).map { String(decoding: $0, as: UTF8.self) } }
            case "Service":
                manifests.services.append(name)
            case "Deployment", "StatefulSet":
                let spec = document["spec"] as? [String: Any] ?? [:]
                let pod = (spec["template"] as? [String: Any])?["spec"] as? [String: Any] ?? [:]
                var volumes: [String: String] = [:]
                for case let volume as [String: Any] in pod["volumes"] as? [Any] ?? [] {
                    let volumeName = volume["name"] as? String ?? ""
                    if let map = volume["configMap"] as? [String: Any] {
                        volumes[volumeName] = "configMap:\(map["name"] as? String ?? "")"
                    } else {
                        volumes[volumeName] = "emptyDir"
                    }
                }
                for case let claim as [String: Any] in spec["volumeClaimTemplates"] as? [Any] ?? [] {
                    volumes[(claim["metadata"] as? [String: Any])?["name"] as? String ?? ""] = "claim"
                }
                let containers = (pod["containers"] as? [Any] ?? []).compactMap { $0 as? [String: Any] }.map { container in
                    var ports: [String: Int] = [:]
                    for case let port as [String: Any] in container["ports"] as? [Any] ?? [] {
                        if let number = port["containerPort"] as? Int { ports[port["name"] as? String ?? "\(number)"] = number }
                    }
                    let mounts = (container["volumeMounts"] as? [Any] ?? []).compactMap { $0 as? [String: Any] }.map {
                        (path: $0["mountPath"] as? String ?? "", volume: $0["name"] as? String ?? "")
                    }
                    var readiness: (String, Int)?
                    if let probe = (container["readinessProbe"] as? [String: Any])?["httpGet"] as? [String: Any] {
                        let port = probe["port"] as? Int ?? (probe["port"] as? String).flatMap { ports[$0] } ?? 0
                        readiness = (probe["path"] as? String ?? "/", port)
                    }
                    return Container(
                        name: container["name"] as? String ?? "", command: container["command"] as? [String] ?? [],
                        args: container["args"] as? [String] ?? [], env: (container["env"] as? [Any] ?? []).compactMap(envEntry),
                        ports: ports, mounts: mounts, readiness: readiness)
                }
                manifests.workloads.append(
                    Workload(kind: kind, name: name, replicas: spec["replicas"] as? Int ?? 1, containers: containers, volumes: volumes))
            default:
                break
            }
        }
        return manifests
    }
}

/// Runs rendered workloads as processes on this host, one network namespace per pod (`ip netns`, root only): each pod
/// gets its own address on a bridge, its own loopback (so every pod listens on the manifests' own ports), and an
/// `/etc/hosts` (through `/etc/netns/NS/hosts`) that resolves the Services and the StatefulSet pods' stable names.
/// Paths the containers mount are remapped to per-pod directories, in env values and ConfigMap files alike; a
/// volumeClaimTemplate's directory outlives its pod (as a PersistentVolume does).
///
/// What it does not emulate: users and security contexts (processes run as root), resource limits, probes run by a
/// kubelet (the test polls them), Service load balancing (a Service name resolves to its first pod).
final class ManifestCluster: Sendable {
    struct Pod: Sendable {
        var name: String
        var workload: String
        var address: String
        var namespace: String
    }

    let manifests: RenderedManifests
    let directory: URL
    let processes = TestProcesses()
    let pods: [Pod]
    let bridge: String
    let prefix: String
    let binaries: [String: String]

    /// Whether this host can run it: root, `ip`, `bash` and kubectl.
    static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: ipTool)
            && FFmpegTool.path(of: "kubectl") != nil && FileManager.default.isExecutableFile(atPath: "/bin/bash")
    }

    static let ipTool =
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/ip"

    /// Lays out the pods of `manifests` (`replicas` overrides a workload's count, like `kubectl scale`).
    init(_ manifests: RenderedManifests, directory: URL, replicas: [String: Int] = [:]) throws {
        self.manifests = manifests
        self.directory = directory
        let tag = String(getpid() % 100_000)
        bridge = "estbr\(tag)"
        prefix = "est\(tag)"
        var pods: [Pod] = []
        for workload in manifests.workloads {
            for index in 0..<(replicas[workload.name] ?? workload.replicas) {
                pods.append(
                    Pod(
                        name: "\(workload.name)-\(index)", workload: workload.name, address: "10.231.0.\(10 + pods.count)",
                        namespace: manifests.namespace))
            }
        }
        self.pods = pods
        var binaries: [String: String] = [:]
        for container in manifests.workloads.flatMap(\.containers) {
            guard let command = container.command.first else { throw TestFailure("container \(container.name) has no command") }
            binaries[command] = try TestProcesses.binary(command)
        }
        self.binaries = binaries
    }

    func pod(_ name: String) throws -> Pod {
        guard let pod = pods.first(where: { $0.name == name }) else { throw TestFailure("no pod \(name)") }
        return pod
    }

    @discardableResult
    static func run(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func namespaceName(_ pod: Pod) -> String { "\(prefix)-\(pod.name)" }

    /// The bridge, one namespace per pod, and each pod's hosts file.
    func createNetwork() throws {
        tearDownNetwork()
        let ip = Self.ipTool
        guard Self.run([ip, "link", "add", bridge, "type", "bridge"]) == 0 else { throw TestFailure("ip link add \(bridge) failed") }
        Self.run([ip, "addr", "add", "10.231.0.1/24", "dev", bridge])
        Self.run([ip, "link", "set", bridge, "up"])
        var hosts = "127.0.0.1 localhost\n"
        for pod in pods {
            let service = pod.workload
            hosts += "\(pod.address) \(pod.name) \(pod.name).\(service) \(pod.name).\(service).\(pod.namespace).svc.cluster.local\n"
        }
        for service in manifests.services {
            if let first = pods.first(where: { $0.workload == service }) {
                hosts += "\(first.address) \(service) \(service).\(first.namespace) \(service).\(first.namespace).svc.cluster.local\n"
            }
        }
        for (index, pod) in pods.enumerated() {
            let ns = namespaceName(pod)
            let veth = "\(prefix)v\(index)"
            guard Self.run([ip, "netns", "add", ns]) == 0 else { throw TestFailure("ip netns add \(ns) failed") }
            Self.run([ip, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
            Self.run([ip, "link", "set", veth, "master", bridge])
            Self.run([ip, "link", "set", veth, "up"])
            Self.run([ip, "netns", "exec", ns, ip, "addr", "add", "\(pod.address)/24", "dev", "eth0"])
            Self.run([ip, "netns", "exec", ns, ip, "link", "set", "eth0", "up"])
            Self.run([ip, "netns", "exec", ns, ip, "link", "set", "lo", "up"])
            let etc = URL(fileURLWithPath: "/etc/netns/\(ns)")
            try FileManager.default.createDirectory(at: etc, withIntermediateDirectories: true)
            try hosts.write(to: etc.appendingPathComponent("hosts"), atomically: true, encoding: .utf8)
        }
    }

    func tearDownNetwork() {
        for pod in pods {
            Self.run([Self.ipTool, "netns", "del", namespaceName(pod)])
            try? FileManager.default.removeItem(atPath: "/etc/netns/\(namespaceName(pod))")
        }
        Self.run([Self.ipTool, "link", "del", bridge])
    }

    /// The host directory behind a pod's volume.
    func volumeDirectory(_ pod: Pod, _ volume: String) -> URL {
        directory.appendingPathComponent("pods/\(pod.name)/\(volume)")
    }

    /// `text` with every mount path of the pod replaced by its host directory, in one pass (a replacement is never
    /// matched again), longest path first, and only where a whole path stands (`/var/lib/estuary` does not match inside
    /// `/var/lib/estuary-sidecar`, nor `/tmp` inside `/var/tmp`).
    func remap(_ text: String, _ mounts: [(path: String, directory: String)]) -> String {
        let ordered = mounts.sorted { $0.path.count > $1.path.count }
        func isPathCharacter(_ character: Character?) -> Bool {
            guard let character else { return false }
            return character.isLetter || character.isNumber || "-_.".contains(character)
        }
        var output = ""
        var index = text.startIndex
        var previous: Character?
        scan: while index < text.endIndex {
            if !isPathCharacter(previous) {
                for (path, directory) in ordered where text[index...].hasPrefix(path) {
                    let end = text.index(index, offsetBy: path.count)
                    guard !isPathCharacter(end < text.endIndex ? text[end] : nil) else { continue }
                    output += directory
                    previous = path.last
                    index = end
                    continue scan
                }
            }
            previous = text[index]
            output.append(text[index])
            index = text.index(after: index)
        }
        return output
    }

    /// Starts every container of `pod` in its namespace, with the manifest's env and remapped paths.
    func start(_ pod: Pod) throws {
        guard let workload = manifests.workloads.first(where: { $0.name == pod.workload }) else { return }
        let mounts = workload.containers.flatMap(\.mounts).map { mount in
            (path: mount.path, directory: volumeDirectory(pod, mount.volume).path)
        }
        for (volume, backing) in workload.volumes {
            let target = volumeDirectory(pod, volume)
            if backing.hasPrefix("configMap:") {
                // Written afresh at each start, as the kubelet projects it.
                try? FileManager.default.removeItem(at: target)
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
                for (file, content) in manifests.configMaps[String(backing.dropFirst("configMap:".count))] ?? [:] {
                    try remap(content, mounts).write(to: target.appendingPathComponent(file), atomically: true, encoding: .utf8)
                }
            } else if backing == "emptyDir" {
                try? FileManager.default.removeItem(at: target)
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            } else {
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            }
        }
        for container in workload.containers {
            var environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": volumeDirectory(pod, "home").path]
            var order: [String] = []
            for (name, source) in container.env {
                var value: String
                switch source {
                case .value(let text): value = text
                case .field(let field):
                    value = ["metadata.name": pod.name, "metadata.namespace": pod.namespace, "status.podIP": pod.address][field] ?? ""
                case .secret(let secret, let key): value = manifests.secrets[secret]?[key] ?? ""
                case .configMap(let map, let key): value = manifests.configMaps[map]?[key] ?? ""
                }
                // `$(NAME)` refers to a variable defined earlier in the list.
                for earlier in order { value = value.replacingOccurrences(of: "$(\(earlier))", with: environment[earlier] ?? "") }
                environment[name] = remap(value, mounts)
                order.append(name)
            }
            try FileManager.default.createDirectory(at: volumeDirectory(pod, "home"), withIntermediateDirectories: true)
            let binary = binaries[container.command[0]] ?? container.command[0]
            let arguments =
                ["netns", "exec", namespaceName(pod), binary] + (container.command.dropFirst() + container.args).map { remap($0, mounts) }
            let log = directory.appendingPathComponent("\(pod.name)-\(container.name).log").path
            try processes.start("\(pod.name)/\(container.name)", Self.ipTool, arguments, log: log, environment: environment)
        }
    }

    /// Ends every container of `pod` with SIGKILL (a node failure: no graceful shutdown).
    func kill(_ pod: Pod) {
        guard let workload = manifests.workloads.first(where: { $0.name == pod.workload }) else { return }
        for container in workload.containers { processes.kill("\(pod.name)/\(container.name)") }
    }

    /// The HTTP status of `GET path` on the pod's own loopback (as a kubelet probe with `host: 127.0.0.1` sees it).
    func probe(_ pod: Pod, port: Int, path: String) -> Int? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ipTool)
        let script =
            "exec 3<>/dev/tcp/127.0.0.1/\(port) && printf 'GET \(path) HTTP/1.0\\r\\nHost: probe\\r\\n\\r\\n' >&3 && head -c 64 <&3"
        process.arguments = ["netns", "exec", namespaceName(pod), "timeout", "3", "/bin/bash", "-c", script]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let line = String(decoding: data, as: UTF8.self).split(separator: " ")
        return line.count > 1 ? Int(line[1]) : nil
    }

    /// Whether every readiness probe of the pod's containers answers 200.
    func isReady(_ pod: Pod) -> Bool {
        guard let workload = manifests.workloads.first(where: { $0.name == pod.workload }) else { return false }
        return workload.containers.allSatisfy { container in
            guard let readiness = container.readiness else { return true }
            return probe(pod, port: readiness.port, path: readiness.path) == 200
        }
    }

    /// The last lines of every container log, for a failure message.
    func logTails() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".log") }.sorted()) ?? []
        return files.map { file in
            let text = (try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)) ?? ""
            return "== \(file)\n" + text.split(separator: "\n").suffix(8).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    func stop() {
        processes.stopAll()
        tearDownNetwork()
    }
}
