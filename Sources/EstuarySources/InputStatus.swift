import Synchronization

/// The live state of one stream's inputs, for the API and metrics. Thread-safe.
public final class InputStatus: Sendable {
    /// A snapshot.
    public struct Snapshot: Sendable, Equatable {
        /// Index (in priority order) of the input whose frames are delivered, if any.
        public var activeInput: Int?
        public var activeURL: String?
        /// The last failure of any input, with its machine-readable reason.
        public var lastError: String?
        public var lastErrorReason: String?
        /// Connection attempts after the first (reconnects and failovers).
        public var reconnects: Int = 0
        /// Switches from one input to another.
        public var switches: Int = 0
        /// Damaged input skipped by the sources (bad packets or boxes), and the last such error.
        public var inputErrors: Int = 0
        public var lastInputError: String?
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func activated(_ index: Int, url: String) {
        state.withLock { state in
            if state.activeInput != nil, state.activeInput != index { state.switches += 1 }
            state.activeInput = index
            state.activeURL = url
            state.lastError = nil
            state.lastErrorReason = nil
        }
    }

    func failed(_ index: Int, error: any Error, wasActive: Bool) {
        state.withLock { state in
            if wasActive {
                state.activeInput = nil
                state.activeURL = nil
            }
            state.lastError = "\(error)"
            state.lastErrorReason = (error as? SourceError)?.reason ?? "error"
        }
    }

    /// Records damaged input; returns how many such errors there were so far.
    func damaged(_ description: String) -> Int {
        state.withLock { state in
            state.inputErrors += 1
            state.lastInputError = description
            return state.inputErrors
        }
    }

    func attempted() {
        state.withLock { $0.reconnects += 1 }
    }
}
