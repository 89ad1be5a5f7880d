import EstuaryConfig
import Synchronization

/// A stored stream's JSON text and, once asked for, what it decodes to. Shared by the copies of one
/// ``CentralStream``, so each text is decoded at most once.
final class StoredConfig: Sendable {
    let role: String
    let name: String
    let json: String
    private let result = Mutex<Result<StreamConfig, CentralConfigError>?>(nil)

    init(role: String, name: String, json: String) {
        self.role = role
        self.name = name
        self.json = json
    }

    /// Decodes the text on the first call (under the lock: concurrent callers wait for one decode) and returns
    /// the same result on every later one.
    func decoded() throws(CentralConfigError) -> StreamConfig {
        let outcome = result.withLock { result in
            if let result { return result }
            let decoded: Result<StreamConfig, CentralConfigError>
            do throws(CentralConfigError) {
                decoded = .success(try CentralDocument.storedStream(role: role, name: name, failback: nil, json: json).config)
            } catch {
                decoded = .failure(error)
            }
            result = decoded
            return decoded
        }
        return try outcome.get()
    }
}
