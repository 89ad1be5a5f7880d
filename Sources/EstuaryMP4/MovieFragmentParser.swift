import NIOCore

/// One `trun` resolved against its `tfhd`/`trex` defaults.
struct ParsedRun: Sendable {
    var trackID: Int
    /// Offset of the run's first byte from the start of the `moof`.
    var dataOffset: Int64
    /// Decode time of the run's first sample, in the track's timescale.
    var baseDecodeTime: Int64
    var samples: [ParsedSample]
}

struct ParsedSample: Sendable {
    var duration: UInt32
    var size: UInt32
    var flags: UInt32
    var compositionOffset: Int32
}

/// Parses a `moof` body into runs of samples (`mfhd`, `traf` > `tfhd`, `tfdt`, `trun`).
/// Only moof-relative data offsets are supported (`default-base-is-moof` or no base offset),
/// which is what every CMAF/M4F writer produces.
enum MovieFragmentParser {
    static let maximumSamplesPerRun: UInt32 = 100_000

    static func parse(moof: ByteBuffer, tracks: [Int: ParsedTrack]) throws(M4FError) -> (sequenceNumber: UInt32, runs: [ParsedRun]) {
        var cursor = BoxCursor(moof)
        var sequence: UInt32 = 0
        var runs: [ParsedRun] = []
        while let box = try cursor.next() {
            if box.type == "mfhd" {
                var body = box.body
                _ = try body.readVersionAndFlags("mfhd")
                sequence = try body.readOrThrow("mfhd", "sequence_number")
            } else if box.type == "traf" {
                runs += try parseTraf(box.body, tracks: tracks)
            }
        }
        return (sequence, runs)
    }

    private static func parseTraf(_ traf: ByteBuffer, tracks: [Int: ParsedTrack]) throws(M4FError) -> [ParsedRun] {
        guard var tfhd = try BoxCursor.find("tfhd", in: traf) else { throw .malformedBox(type: "traf", reason: "no tfhd") }
        let (_, tfhdFlags) = try tfhd.readVersionAndFlags("tfhd")
        let trackID = Int(try tfhd.readOrThrow("tfhd", "track_ID", as: UInt32.self))
        guard let track = tracks[trackID] else { throw .unknownTrack(trackID) }
        if tfhdFlags & 0x01 != 0 {
            throw .malformedBox(type: "tfhd", reason: "base-data-offset is not supported; use default-base-is-moof")
        }
        if tfhdFlags & 0x02 != 0 { _ = try tfhd.readOrThrow("tfhd", "sample_description_index", as: UInt32.self) }
        let defaultDuration = tfhdFlags & 0x08 != 0 ? try tfhd.readOrThrow("tfhd", "default_sample_duration") : track.defaultSampleDuration
        let defaultSize = tfhdFlags & 0x10 != 0 ? try tfhd.readOrThrow("tfhd", "default_sample_size") : track.defaultSampleSize
        let defaultFlags = tfhdFlags & 0x20 != 0 ? try tfhd.readOrThrow("tfhd", "default_sample_flags") : track.defaultSampleFlags

        var baseDecodeTime: Int64 = 0
        if var tfdt = try BoxCursor.find("tfdt", in: traf) {
            let (version, _) = try tfdt.readVersionAndFlags("tfdt")
            baseDecodeTime =
                version == 1
                ? Int64(clamping: try tfdt.readOrThrow("tfdt", "baseMediaDecodeTime", as: UInt64.self))
                : Int64(try tfdt.readOrThrow("tfdt", "baseMediaDecodeTime", as: UInt32.self))
        }
        var runs: [ParsedRun] = []
        var cursor = BoxCursor(traf)
        var nextDecodeTime = baseDecodeTime
        while let box = try cursor.next() {
            guard box.type == "trun" else { continue }
            var trun = box.body
            let (version, flags) = try trun.readVersionAndFlags("trun")
            let count = try trun.readOrThrow("trun", "sample_count", as: UInt32.self)
            guard count <= maximumSamplesPerRun else { throw .malformedBox(type: "trun", reason: "sample_count \(count) too large") }
            let dataOffset = flags & 0x01 != 0 ? Int64(try trun.readOrThrow("trun", "data_offset", as: Int32.self)) : 0
            let firstFlags: UInt32? = flags & 0x04 != 0 ? try trun.readOrThrow("trun", "first_sample_flags") : nil
            var samples: [ParsedSample] = []
            samples.reserveCapacity(Int(count))
            for index in 0..<Int(count) {
                let duration = flags & 0x100 != 0 ? try trun.readOrThrow("trun", "sample_duration") : defaultDuration
                let size = flags & 0x200 != 0 ? try trun.readOrThrow("trun", "sample_size") : defaultSize
                var sampleFlags = flags & 0x400 != 0 ? try trun.readOrThrow("trun", "sample_flags") : defaultFlags
                if index == 0, let firstFlags { sampleFlags = firstFlags }
                var offset: Int32 = 0
                if flags & 0x800 != 0 {
                    let raw = try trun.readOrThrow("trun", "sample_composition_time_offset", as: UInt32.self)
                    offset = version == 0 ? Int32(clamping: raw) : Int32(bitPattern: raw)
                }
                samples.append(ParsedSample(duration: duration, size: size, flags: sampleFlags, compositionOffset: offset))
            }
            runs.append(ParsedRun(trackID: trackID, dataOffset: dataOffset, baseDecodeTime: nextDecodeTime, samples: samples))
            nextDecodeTime &+= samples.reduce(Int64(0)) { $0 + Int64($1.duration) }
        }
        return runs
    }
}
