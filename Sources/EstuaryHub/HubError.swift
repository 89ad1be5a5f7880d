/// Why a hub reader's sequence ended with an error.
public enum HubError: Error, Equatable, CustomStringConvertible {
    /// The reader took nothing for longer than the stall timeout while its queue overflowed.
    case readerTooSlow(queuedBytes: Int)

    public var description: String {
        switch self {
        case .readerTooSlow(let bytes): "reader too slow: \(bytes) bytes queued and nothing taken within the stall timeout"
        }
    }
}
