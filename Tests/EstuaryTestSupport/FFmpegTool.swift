import Foundation

/// ffmpeg and ffprobe for tests: whether they are installed, whether tests needing them must
/// run anyway (`ESTUARY_REQUIRE_FFMPEG=1`, as CI sets, so a missing tool fails instead of
/// skipping), and how to run them.
public enum FFmpegTool {
    /// A tool that is missing, failed, or did not finish in time.
    public struct ToolError: Error, Sendable, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public static let required = ProcessInfo.processInfo.environment["ESTUARY_REQUIRE_FFMPEG"] == "1"
    public static let available = path(of: "ffmpeg") != nil && path(of: "ffprobe") != nil
    /// The condition for `@Test(.enabled(if: FFmpegTool.enabled))`.
    public static let enabled = available || required

    /// The tool's path on `PATH`, if installed.
    public static func path(of tool: String) -> String? {
        let search = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in search.split(separator: ":") {
            let candidate = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Starts `tool` in the background with its output discarded; the caller terminates it.
    public static func start(_ tool: String, _ arguments: [String]) throws -> Process {
        let process = try makeProcess(tool, arguments)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs `tool` to completion, blocking the calling thread; returns its standard output.
    /// For synchronous contexts (fixtures built in `static let`s).
    /// - Throws: ``ToolError`` if the tool is missing or exits non-zero.
    public static func run(_ tool: String, _ arguments: [String]) throws -> Data {
        let (process, output, errors) = try launch(tool, arguments)
        // The tools run with `-v error`, so standard error stays small and reading standard
        // output to its end first cannot deadlock.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try check(process, tool, arguments, errorData)
        return data
    }

    /// Runs `tool` to completion without blocking a concurrency thread; returns its standard
    /// output. The tool is terminated if it has not finished within `timeout`.
    /// - Throws: ``ToolError`` if the tool is missing, exits non-zero or times out.
    public static func run(_ tool: String, _ arguments: [String], timeout: Duration) async throws -> Data {
        let process = try makeProcess(tool, arguments)
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        try process.run()
        let reading = Task.detached {
            (output.fileHandleForReading.readDataToEndOfFile(), errors.fileHandleForReading.readDataToEndOfFile())
        }
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in exited.stream {}
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        guard finished else {
            process.terminate()
            throw ToolError(description: "\(tool) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        let (data, errorData) = await reading.value
        try check(process, tool, arguments, errorData)
        return data
    }

    private static func makeProcess(_ tool: String, _ arguments: [String]) throws -> Process {
        guard let executable = path(of: tool) else {
            throw ToolError(description: "\(tool) is not on PATH (apt-get install ffmpeg; ESTUARY_REQUIRE_FFMPEG=1 requires it)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        return process
    }

    private static func launch(_ tool: String, _ arguments: [String]) throws -> (Process, Pipe, Pipe) {
        let process = try makeProcess(tool, arguments)
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return (process, output, errors)
    }

    private static func check(_ process: Process, _ tool: String, _ arguments: [String], _ errorData: Data) throws {
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let message = String(decoding: errorData, as: UTF8.self)
            throw ToolError(description: "\(tool) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): \(message)")
        }
    }
}
