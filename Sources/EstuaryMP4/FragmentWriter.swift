import NIOCore

/// Writes M4F fragments: `[styp] prft moof mdat`, one `traf` per track, `tfdt` version 1,
/// `trun` version 1 with per-sample duration, size, flags and signed composition offsets,
/// and `default-base-is-moof` data offsets (CMAF style).
///
/// Guarantees: fragment sequence numbers increase by one per fragment; the `mdat` holds the
/// samples of each track contiguously in the order of `tracks`.
public struct FragmentWriter: Sendable {
    /// The sequence number the next fragment gets (`mfhd`).
    public private(set) var nextSequenceNumber: UInt32

    public init(firstSequenceNumber: UInt32 = 1) {
        self.nextSequenceNumber = firstSequenceNumber
    }

    /// Sample flags for a sync sample (depends on nothing) and a non-sync one.
    static let syncSampleFlags: UInt32 = 0x0200_0000
    static let nonSyncSampleFlags: UInt32 = 0x0101_0000

    /// Appends one fragment to `out`.
    public mutating func write(_ fragment: FragmentContent, into out: inout ByteBuffer) {
        if fragment.startsSegment {
            out.writeBox("styp") { styp in
                styp.writeInteger(FourCC("msdh").rawValue)
                styp.writeInteger(UInt32(0))
                styp.writeInteger(FourCC("msdh").rawValue)
                styp.writeInteger(FourCC("msix").rawValue)
            }
        }
        out.writeFullBox("prft", version: 1, flags: 0) { prft in
            prft.writeInteger(UInt32(fragment.referenceTrackID))
            prft.writeInteger(NTPTime.ntp(fromUnixMicros: fragment.wallClockMicros))
            prft.writeInteger(UInt64(max(fragment.referenceDecodeTime, 0)))
        }
        let moofStart = out.writerIndex
        var dataOffsetPositions: [Int] = []
        out.writeBox("moof") { moof in
            moof.writeFullBox("mfhd", version: 0, flags: 0) { $0.writeInteger(nextSequenceNumber) }
            for track in fragment.tracks {
                moof.writeBox("traf") { traf in
                    traf.writeFullBox("tfhd", version: 0, flags: 0x02_0000) { $0.writeInteger(UInt32(track.trackID)) }
                    traf.writeFullBox("tfdt", version: 1, flags: 0) { $0.writeInteger(UInt64(max(track.baseDecodeTime, 0))) }
                    traf.writeFullBox("trun", version: 1, flags: 0x000F01) { trun in
                        trun.writeInteger(UInt32(track.samples.count))
                        dataOffsetPositions.append(trun.writerIndex)
                        trun.writeInteger(Int32(0))
                        for sample in track.samples {
                            trun.writeInteger(sample.duration)
                            trun.writeInteger(UInt32(sample.data.readableBytes))
                            trun.writeInteger(sample.isKeyframe ? Self.syncSampleFlags : Self.nonSyncSampleFlags)
                            trun.writeInteger(sample.compositionOffset)
                        }
                    }
                }
            }
        }
        let moofSize = out.writerIndex - moofStart
        var offset = moofSize + 8
        for (track, position) in zip(fragment.tracks, dataOffsetPositions) {
            out.setInteger(Int32(offset), at: position)
            offset += track.samples.reduce(0) { $0 + $1.data.readableBytes }
        }
        out.writeBox("mdat") { mdat in
            for track in fragment.tracks {
                for sample in track.samples { mdat.writeImmutableBuffer(sample.data) }
            }
        }
        nextSequenceNumber &+= 1
    }
}
