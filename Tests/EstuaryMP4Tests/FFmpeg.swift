import Foundation

/// Whether tests that need ffmpeg/ffprobe run: when both tools are on PATH, and also when
/// `ESTUARY_REQUIRE_FFMPEG=1` (then a missing tool fails them instead of skipping them).
enum FFmpeg {
    static let requireEnv = ProcessInfo.processInfo.environment["ESTUARY_REQUIRE_FFMPEG"] == "1"
    static let ffmpegPath = findOnPath("ffmpeg")
    static let ffprobePath = findOnPath("ffprobe")
    static let available = ffmpegPath != nil && ffprobePath != nil
    /// The condition for `@Test(.enabled(if: FFmpeg.enabled))`.
    static let enabled = available || requireEnv

    struct ToolError: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    private static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `ffmpeg` or `ffprobe` with `arguments` and returns its standard output.
    /// - Throws: ``ToolError`` if the tool is missing or exits non-zero.
    static func run(_ tool: String, _ arguments: [String]) throws -> Data {
        guard let executable = tool == "ffprobe" ? ffprobePath : ffmpegPath else {
            throw ToolError(description: "\(tool) is not on PATH (ESTUARY_REQUIRE_FFMPEG=1 requires it)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The tools run with `-v error`, so standard error stays small and reading standard
        // output to its end first cannot deadlock.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errorData, as: UTF8.self)
            throw ToolError(description: "\(tool) \(arguments.joined(separator: " ")) failed: \(message)")
        }
        return data
    }

    /// A fresh temporary directory; the caller removes it.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-mp4-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
