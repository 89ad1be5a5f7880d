extension H264Config {
    /// Builds a configuration from raw SPS and PPS NAL units (headers included, no start codes
    /// or length prefixes), reading ``info`` from the first SPS.
    ///
    /// Guarantees: ``sps`` and ``pps`` hold exactly the given units, every SPS has
    /// `nal_unit_type` 7 and every PPS 8, and ``info`` is `VideoInfo(h264SPS: sps[0])`.
    /// - Throws: ``MediaFormatError/truncated(what:)`` if `sps` or `pps` is empty or holds an
    ///   empty unit; ``MediaFormatError/invalidField(what:value:)`` for a unit of the wrong type;
    ///   any error of ``VideoInfo/init(h264SPS:)``.
    public init(sps: [[UInt8]], pps: [[UInt8]]) throws {
        guard let first = sps.first else { throw MediaFormatError.truncated(what: "H.264 configuration: no SPS") }
        guard !pps.isEmpty else { throw MediaFormatError.truncated(what: "H.264 configuration: no PPS") }
        for unit in sps {
            guard let header = unit.first else { throw MediaFormatError.truncated(what: "H.264 SPS NAL header") }
            guard header & 0x1F == H264NALType.sps else {
                throw MediaFormatError.invalidField(what: "H.264 SPS nal_unit_type", value: Int(header & 0x1F))
            }
        }
        for unit in pps {
            guard let header = unit.first else { throw MediaFormatError.truncated(what: "H.264 PPS NAL header") }
            guard header & 0x1F == H264NALType.pps else {
                throw MediaFormatError.invalidField(what: "H.264 PPS nal_unit_type", value: Int(header & 0x1F))
            }
        }
        self.init(sps: sps, pps: pps, info: try VideoInfo(h264SPS: first))
    }

    /// The body (without the 8-byte box header) of the ISO/IEC 14496-15 §5.3.3
    /// `AVCDecoderConfigurationRecord` (the `avcC` box) for this configuration.
    ///
    /// Guarantees: configurationVersion 1; profile, compatibility and level from ``info``;
    /// `lengthSizeMinusOne` 3 (the 4-byte lengths of ``MediaFrame``); the SPS then the PPS units,
    /// each behind a 16-bit length; for profiles 100, 110, 122 and 144 the chroma format and
    /// bit-depth bytes (read from the first SPS, 4:2:0 8-bit if it cannot be read) and no SPS
    /// extensions. Byte for byte what FFmpeg writes for Baseline, Main, High, High 10 and
    /// High 4:2:2 streams. Units that cannot be represented (beyond 31 SPS or 255 PPS, or longer
    /// than 65 535 bytes) are left out.
    public func decoderConfigurationRecord() -> [UInt8] {
        let spsUnits = sps.filter { $0.count <= 0xFFFF }.prefix(31)
        let ppsUnits = pps.filter { $0.count <= 0xFFFF }.prefix(255)
        var out: [UInt8] = []
        out.reserveCapacity(16 + spsUnits.reduce(0) { $0 + $1.count + 2 } + ppsUnits.reduce(0) { $0 + $1.count + 2 })
        out.append(1)
        out.append(UInt8(truncatingIfNeeded: info.profile))
        out.append(UInt8(truncatingIfNeeded: info.compatibility))
        out.append(UInt8(truncatingIfNeeded: info.level))
        out.append(0xFC | 3)
        out.append(0xE0 | UInt8(spsUnits.count))
        for unit in spsUnits {
            out.append(UInt8(unit.count >> 8))
            out.append(UInt8(unit.count & 0xFF))
            out.append(contentsOf: unit)
        }
        out.append(UInt8(ppsUnits.count))
        for unit in ppsUnits {
            out.append(UInt8(unit.count >> 8))
            out.append(UInt8(unit.count & 0xFF))
            out.append(contentsOf: unit)
        }
        if [100, 110, 122, 144].contains(info.profile) {
            let parsed = sps.first.flatMap { try? VideoInfo.H264SPS(nal: $0) }
            out.append(0xFC | UInt8((parsed?.chromaFormatIDC ?? 1) & 0x03))
            out.append(0xF8 | UInt8((parsed?.bitDepthLumaMinus8 ?? 0) & 0x07))
            out.append(0xF8 | UInt8((parsed?.bitDepthChromaMinus8 ?? 0) & 0x07))
            out.append(0)  // numOfSequenceParameterSetExt
        }
        return out
    }

    /// Parses the body of an `avcC` box (an ISO/IEC 14496-15 `AVCDecoderConfigurationRecord`).
    ///
    /// Guarantees: the result holds the record's SPS and PPS units in order and ``info`` read
    /// from the first SPS (the record's own profile/level bytes are not trusted); trailing
    /// extension bytes are ignored. Never traps, whatever the bytes.
    /// - Throws: ``MediaFormatError/truncated(what:)`` if a count or length runs past the end;
    ///   ``MediaFormatError/invalidField(what:value:)`` for a configurationVersion other than 1;
    ///   ``MediaFormatError/unsupported(what:)`` for NAL lengths other than 4 bytes (the only
    ///   size ``MediaFrame`` carries); anything ``init(sps:pps:)`` throws.
    public init(decoderConfigurationRecord record: [UInt8]) throws {
        var r = BitReader(record, context: "avcC")
        let version = try r.readBits(8, field: "configurationVersion")
        guard version == 1 else {
            throw MediaFormatError.invalidField(what: "avcC configurationVersion", value: Int(version))
        }
        try r.skipBits(24, field: "profile/compatibility/level")
        try r.skipBits(6, field: "reserved")
        let lengthSize = Int(try r.readBits(2, field: "lengthSizeMinusOne")) + 1
        guard lengthSize == 4 else {
            throw MediaFormatError.unsupported(what: "avcC NAL length size \(lengthSize)")
        }
        try r.skipBits(3, field: "reserved")
        let spsCount = Int(try r.readBits(5, field: "numOfSequenceParameterSets"))
        var sps: [[UInt8]] = []
        for _ in 0..<spsCount {
            let length = Int(try r.readBits(16, field: "sequenceParameterSetLength"))
            sps.append(try r.readBytes(length, field: "sequenceParameterSetNALUnit"))
        }
        let ppsCount = Int(try r.readBits(8, field: "numOfPictureParameterSets"))
        var pps: [[UInt8]] = []
        for _ in 0..<ppsCount {
            let length = Int(try r.readBits(16, field: "pictureParameterSetLength"))
            pps.append(try r.readBytes(length, field: "pictureParameterSetNALUnit"))
        }
        try self.init(sps: sps, pps: pps)
    }
}
