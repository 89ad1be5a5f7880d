import Foundation
import Logging
import NIOSSL
import Synchronization
import UnixSignals

/// The certificate and key an HTTPS listener presents, reloaded when the files change or on SIGHUP.
///
/// Guarantees: ``context`` always holds a context built from a certificate and key that were read together and
/// fit each other; a reload that fails (half-written file, mismatched key) keeps the previous context and is
/// reported, so a bad rotation never takes the listener down. Connections accepted after a successful reload
/// present the new certificate; open ones keep theirs.
public final class TLSCertificateStore: Sendable {
    /// The PEM certificate chain file.
    public let certificatePath: String
    /// The PEM private key file.
    public let keyPath: String
    private let state: Mutex<State>

    private struct State {
        var context: NIOSSLContext
        var stamp: FileStamp
        var generation: Int
        var lastError: TLSError?
    }

    /// What identifies a version of the two files: a rotation (new inode through a symlink swap, new size or
    /// modification time) changes it.
    struct FileStamp: Equatable {
        var certificate: [Int]
        var key: [Int]

        init(certificate: String, key: String) {
            func stamp(_ path: String) -> [Int] {
                var info = stat()
                guard stat(path, &info) == 0 else { return [] }
                return [Int(info.st_ino), Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)]
            }
            self.certificate = stamp(certificate)
            self.key = stamp(key)
        }
    }

    /// Reads both files; throws ``TLSError`` naming the file at fault.
    public init(certificate: String, key: String) throws(TLSError) {
        self.certificatePath = certificate
        self.keyPath = key
        let stamp = FileStamp(certificate: certificate, key: key)
        let context = try Self.makeContext(certificate: certificate, key: key)
        self.state = Mutex(State(context: context, stamp: stamp, generation: 1, lastError: nil))
    }

    /// The context new connections get.
    public var context: NIOSSLContext { state.withLock { $0.context } }
    /// How many times the files were loaded successfully (1 after init).
    public var generation: Int { state.withLock { $0.generation } }
    /// The last failed reload's error, cleared by a successful one.
    public var lastError: TLSError? { state.withLock { $0.lastError } }

    /// Reloads the files when they changed since the last load (or always, with `force`).
    ///
    /// - Returns: whether a new certificate is now in use.
    /// - Throws: ``TLSError`` when the new files are unusable; the previous context stays in use.
    @discardableResult
    public func reload(force: Bool = false) throws(TLSError) -> Bool {
        let stamp = FileStamp(certificate: certificatePath, key: keyPath)
        guard force || state.withLock({ $0.stamp != stamp }) else { return false }
        do {
            let context = try Self.makeContext(certificate: certificatePath, key: keyPath)
            state.withLock { state in
                state.context = context
                state.stamp = stamp
                state.generation += 1
                state.lastError = nil
            }
            return true
        } catch {
            // Remember the stamp, so a broken file is reported once, not every poll.
            state.withLock { state in
                state.stamp = stamp
                state.lastError = error
            }
            throw error
        }
    }

    /// Watches `hangups` (make it with `UnixSignalsSequence(trapping: .sighup)` before the listener opens, so that
    /// no SIGHUP finds the default action, which ends the process) and, every `pollInterval`, the files, until
    /// cancelled.
    public func run(hangups: UnixSignalsSequence, logger: Logger, pollInterval: Duration = .seconds(2)) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups {
                    self.reloadAndLog(force: true, reason: "SIGHUP", logger: logger)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: pollInterval)
                    if Task.isCancelled { break }
                    self.reloadAndLog(force: false, reason: "files changed", logger: logger)
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func reloadAndLog(force: Bool, reason: String, logger: Logger) {
        do {
            if try reload(force: force) {
                logger.info("tls certificate reloaded", metadata: ["reason": .string(reason), "certificate": .string(certificatePath)])
            }
        } catch {
            logger.error("tls certificate reload failed; the previous certificate stays in use", metadata: ["error": .string("\(error)")])
        }
    }

    static func makeContext(certificate: String, key: String) throws(TLSError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw .unreadableCertificate(path: certificate, reason: "\(error)")
        }
        guard !chain.isEmpty else { throw .unreadableCertificate(path: certificate, reason: "no PEM certificate in the file") }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw .unreadableKey(path: key, reason: "\(error)")
        }
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw .keyMismatch(certificate: certificate, key: key, reason: "\(error)")
        }
    }
}
