/// Where a source delivers what it captures. A source calls these from one task at a time.
public protocol MediaSink: Sendable {
    /// Declares the tracks (again whenever codec parameters change).
    func setTracks(_ tracks: [TrackInfo])
    /// Delivers one frame, in decode order per track.
    func push(_ frame: MediaFrame)
    /// Marks a natural boundary in the input (e.g. the end of an upstream fragment).
    func flush()
    /// Marks a change of source: timestamps may restart, the output timeline must not.
    func discontinuity()
    /// Reports damaged input the source skipped (a bad packet or box); capture goes on.
    func inputError(_ description: String)
}

extension MediaSink {
    public func discontinuity() {}
    public func inputError(_ description: String) {}
}
