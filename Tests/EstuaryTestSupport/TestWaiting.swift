import Foundation

/// A condition a test waited for that did not come true in time.
public struct TimedOut: Error, CustomStringConvertible {
    public var description: String
}

/// Waits for a condition, checking every 50 ms until `timeout` (a deadline, never a fixed sleep).
/// - Throws: ``TimedOut`` naming what was awaited.
public func waitUntil(_ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    if try await condition() { return }
    throw TimedOut(description: "timed out after \(timeout) waiting for: \(what)")
}

/// A new empty temporary directory; the caller removes it.
public func makeTemporaryDirectory(prefix: String = "estuary-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `body` with a new temporary directory and removes it afterwards.
public func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let url = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}
