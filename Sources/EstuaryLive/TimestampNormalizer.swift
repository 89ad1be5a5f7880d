import EstuaryMedia

/// Keeps a stream's output timeline continuous and increasing whatever its sources do:
/// timestamps that restart, jump (more than ``maximumJump`` forward or any amount back) or
/// change with a source switch are re-based so the output continues one frame after the
/// last one. Frames that would still go backwards on their track are dropped.
public struct TimestampNormalizer: Sendable {
    public var maximumJump: Int64
    private var offset: Int64 = 0
    private var lastInput: [Int: Int64] = [:]
    private var lastOutput: [Int: Int64] = [:]
    private var lastDuration: [Int: Int64] = [:]
    private var realignPending = false
    /// How many times the timeline was re-based, and how many frames were dropped.
    public private(set) var discontinuities = 0
    public private(set) var droppedFrames = 0

    public init(maximumJump: Int64 = 10 * 90_000) {
        self.maximumJump = maximumJump
    }

    /// Marks a known discontinuity (a new source): the next frame re-bases the timeline.
    public mutating func discontinuity() {
        realignPending = true
    }

    /// The frame on the output timeline, or nil if it must be dropped.
    public mutating func normalize(_ input: MediaFrame) -> MediaFrame? {
        var frame = input
        let track = frame.trackID
        let previousInput = lastInput[track]
        var jumped = false
        if let previousInput {
            let delta = frame.dts - previousInput
            jumped = delta < 0 || delta > maximumJump
        }
        if realignPending || jumped {
            let resume = lastOutput.map { key, value in value + (lastDuration[key] ?? 3600) }.max()
            if let resume {
                offset = resume - frame.dts
                discontinuities += 1
            }
            realignPending = false
            lastInput.removeAll()
        }
        lastInput[track] = frame.dts
        frame.dts += offset
        frame.pts += offset
        if let last = lastOutput[track] {
            guard frame.dts > last else {
                droppedFrames += 1
                return nil
            }
            lastDuration[track] = frame.dts - last
        }
        lastOutput[track] = frame.dts
        return frame
    }
}
