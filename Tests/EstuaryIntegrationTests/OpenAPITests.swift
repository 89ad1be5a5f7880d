import EstuaryAccess
import EstuaryConfig
import EstuaryNode
import EstuarySidecar
import EstuaryTestSupport
import Foundation
import Logging
import Testing

/// schemathesis (PyPI) against a live node and a live sidecar, driven by the repository's `openapi.yaml`.
///
/// `ESTUARY_SCHEMATHESIS` names the `st` executable (CI installs it in a virtual environment); without it the
/// tests are skipped, unless `ESTUARY_REQUIRE_SCHEMATHESIS=1` makes them fail instead.
enum Schemathesis {
    static let executable = ProcessInfo.processInfo.environment["ESTUARY_SCHEMATHESIS"].flatMap { $0.isEmpty ? nil : $0 }
    static let required = ProcessInfo.processInfo.environment["ESTUARY_REQUIRE_SCHEMATHESIS"] == "1"
    static let enabled = executable != nil || required
    /// The repository's `openapi.yaml`.
    static let specification = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("openapi.yaml").path
    /// The checks the issue asks for: no 5xx, every status, content type and body as documented.
    static let checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

    /// Runs `st run` against `url` for the operations tagged `tag`; returns its exit status and output.
    static func run(url: String, tag: String, token: String, directory: URL) async throws -> (status: Int32, output: String) {
        guard let executable else { throw TestFailure("ESTUARY_SCHEMATHESIS is not set (pip install schemathesis)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.currentDirectoryURL = directory
        process.arguments = [
            "run", specification, "--url", url, "--include-tag", tag, "--exclude-tag", "live", "--seed", "20261122",
            "--max-examples", "30", "--checks", checks, "--header", "Authorization: Bearer \(token)", "--request-timeout", "15",
            "--workers", "1", "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all",
            "--report", "junit", "--report-junit-path", directory.appendingPathComponent("\(tag).xml").path,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        process.environment = environment
        let log = directory.appendingPathComponent("\(tag).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        try process.run()
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in exited.stream {}
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(600))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        try handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard finished else {
            kill(process.processIdentifier, SIGKILL)
            throw TestFailure("schemathesis did not finish within 600 s:\n\(output.suffix(4000))")
        }
        // The summary goes to the test log, so that CI shows how many cases ran and what they found.
        print(output.split(separator: "\n", omittingEmptySubsequences: false).suffix(30).joined(separator: "\n"))
        return (process.terminationStatus, output)
    }

    /// The number of test cases a run reports (`N generated` / `test cases`), from its JUnit report.
    static func caseCount(_ output: String) -> Int {
        // "Test cases:\n  1234 generated, ..." (schemathesis 4).
        guard let range = output.range(of: #"[0-9]+ generated"#, options: .regularExpression) else { return 0 }
        return Int(output[range].split(separator: " ")[0]) ?? 0
    }
}

extension IntegrationTests {
    @Suite(.serialized) struct OpenAPITests {
        @Test(.enabled(if: Schemathesis.enabled))
        func schemathesisFindsNoFailureOnANode() async throws {
            try await withTemporaryDirectory { directory in
                let archive = directory.appendingPathComponent("archive").path
                var access = AccessConfig(apiTokens: [APIToken(token: "fuzz-edit-token", role: .edit)])
                access.apiDVRRoots = [archive]
                var recorded = stream("rec", "fake://rec")
                recorded.dvr = DVRConfig(root: archive, expiration: 3600)
                try await withNode(
                    streams: [stream("cam", "fake://cam"), recorded], logLevel: .critical, options: { $0.access = access }
                ) { node, port in
                    try await waitUntil("the streams are alive") { node.manager.stream(named: "rec")?.isAlive == true }
                    let run = try await Schemathesis.run(
                        url: "http://127.0.0.1:\(port)", tag: "node", token: "fuzz-edit-token", directory: directory)
                    #expect(run.status == 0, "schemathesis failed:\n\(run.output.suffix(6000))")
                    #expect(Schemathesis.caseCount(run.output) >= 500, "a seeded run of at least 500 cases:\n\(run.output.suffix(2000))")
                    #expect(try await httpStatus("http://127.0.0.1:\(port)/healthz") == 200, "the node still serves")
                }
            }
        }

        @Test(.enabled(if: Schemathesis.enabled))
        func schemathesisFindsNoFailureOnASidecar() async throws {
            try await withTemporaryDirectory { directory in
                let yaml = directory.appendingPathComponent("central.yaml")
                try """
                streams:
                  - {name: cam1, inputs: [{url: "fake://cam1"}]}
                  - {name: rec1, inputs: [{url: "fake://rec1"}], dvr: {root: /storage, expiration: 1d}}
                episodes:
                  - {id: e1, stream: rec1, opened_at: 1700000000, closed_at: 1700000600}
                """.write(to: yaml, atomically: true, encoding: .utf8)
                var settings = SidecarSettings(
                    listenHost: "127.0.0.1", listenPort: 0, upstream: "file://\(yaml.path)",
                    identity: SidecarIdentity(hostname: "ingest-0"),
                    nodeURL: "")
                settings.access = AccessConfig(apiTokens: [APIToken(token: "fuzz-edit-token", role: .edit)])
                try await withSidecar(settings, logLevel: .critical) { sidecar, port in
                    try await waitUntil("the sidecar has its configuration") { sidecar.state.config != nil }
                    let run = try await Schemathesis.run(
                        url: "http://127.0.0.1:\(port)", tag: "sidecar", token: "fuzz-edit-token", directory: directory)
                    #expect(run.status == 0, "schemathesis failed:\n\(run.output.suffix(6000))")
                    #expect(Schemathesis.caseCount(run.output) >= 500, "a seeded run of at least 500 cases:\n\(run.output.suffix(2000))")
                    #expect(try await httpStatus("http://127.0.0.1:\(port)/healthz") == 200, "the sidecar still serves")
                }
            }
        }
    }
}
