import EstuaryMedia

/// What a stream's pipeline has seen, for the API and metrics.
public struct StreamStatistics: Sendable {
    public var framesIn: UInt64 = 0
    public var bytesIn: UInt64 = 0
    /// UTC microseconds of the last frame received (0 = none yet).
    public var lastFrameMicros: Int64 = 0
    /// Input bit rate over the last completed second.
    public var inputBitsPerSecond: Int64 = 0
    public var tracks: [TrackInfo] = []
    public var timestampDiscontinuities = 0
    public var droppedFrames = 0

    public init() {}
}
