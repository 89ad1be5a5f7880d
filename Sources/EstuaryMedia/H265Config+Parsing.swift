extension H265Config {
    /// Builds a configuration from raw VPS, SPS and PPS NAL units (2-byte headers included, no
    /// start codes or length prefixes), reading ``info`` from the first SPS.
    ///
    /// Guarantees: ``vps``, ``sps`` and ``pps`` hold exactly the given units, each unit has the
    /// `nal_unit_type` of its list (32, 33, 34), and ``info`` is `VideoInfo(h265SPS: sps[0])`.
    /// - Throws: ``MediaFormatError/truncated(what:)`` if a list is empty or holds a unit shorter
    ///   than its header; ``MediaFormatError/invalidField(what:value:)`` for a unit of the wrong
    ///   type; any error of ``VideoInfo/init(h265SPS:)``.
    public init(vps: [[UInt8]], sps: [[UInt8]], pps: [[UInt8]]) throws {
        for (units, type, name) in [(vps, H265NALType.vps, "VPS"), (sps, H265NALType.sps, "SPS"), (pps, H265NALType.pps, "PPS")] {
            guard !units.isEmpty else { throw MediaFormatError.truncated(what: "H.265 configuration: no \(name)") }
            for unit in units {
                guard unit.count >= 2 else { throw MediaFormatError.truncated(what: "H.265 \(name) NAL header") }
                let unitType = (unit[0] >> 1) & 0x3F
                guard unitType == type else {
                    throw MediaFormatError.invalidField(what: "H.265 \(name) nal_unit_type", value: Int(unitType))
                }
            }
        }
        self.init(vps: vps, sps: sps, pps: pps, info: try VideoInfo(h265SPS: sps[0]))
    }

    /// The body (without the 8-byte box header) of the ISO/IEC 14496-15 §8.3.3
    /// `HEVCDecoderConfigurationRecord` (the `hvcC` box) for this configuration.
    ///
    /// Guarantees: configurationVersion 1; general profile space, tier, profile, the 32
    /// compatibility flags, the 48 constraint indicator flags, level, chroma format and bit
    /// depths as the first SPS declares them (``info`` and 4:2:0 8-bit if it cannot be read);
    /// min_spatial_segmentation 0, parallelismType 0, avgFrameRate 0, constantFrameRate 0,
    /// numTemporalLayers and temporalIdNested from the SPS, `lengthSizeMinusOne` 3; then three
    /// arrays, VPS, SPS and PPS, each with array_completeness 1. Units that cannot be represented
    /// (beyond 65 535 per array, or longer than 65 535 bytes) are left out.
    public func decoderConfigurationRecord() -> [UInt8] {
        let parsed = sps.first.flatMap { try? VideoInfo.H265SPS(nal: $0) }
        let profileSpace = parsed?.generalProfileSpace ?? 0
        let tier = parsed?.generalTierFlag ?? (info.compatibility & 1)
        let profile = parsed?.generalProfileIDC ?? (info.profile & 0x1F)
        let compatibility = parsed?.generalProfileCompatibilityFlags ?? UInt32(1) << UInt32(31 - profile)
        let constraints = parsed?.generalConstraintIndicatorFlags ?? 0
        let level = parsed?.generalLevelIDC ?? info.level
        let temporalLayers = (parsed?.maxSubLayersMinus1 ?? 0) + 1
        let temporalIDNested = parsed?.temporalIDNesting ?? false

        let arrays = [(H265NALType.vps, vps), (H265NALType.sps, sps), (H265NALType.pps, pps)].map { type, units in
            (type, units.filter { $0.count <= 0xFFFF }.prefix(0xFFFF))
        }
        var out: [UInt8] = []
        out.reserveCapacity(23 + arrays.reduce(0) { total, array in total + 3 + array.1.reduce(0) { $0 + $1.count + 2 } })
        out.append(1)
        out.append(UInt8(profileSpace & 0x03) << 6 | UInt8(tier & 0x01) << 5 | UInt8(profile & 0x1F))
        for shift in stride(from: 24, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: compatibility >> UInt32(shift)))
        }
        for shift in stride(from: 40, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: constraints >> UInt64(shift)))
        }
        out.append(UInt8(truncatingIfNeeded: level))
        out.append(contentsOf: [0xF0, 0x00])  // reserved 1111, min_spatial_segmentation_idc 0
        out.append(0xFC)  // reserved 111111, parallelismType 0
        out.append(0xFC | UInt8((parsed?.chromaFormatIDC ?? 1) & 0x03))
        out.append(0xF8 | UInt8((parsed?.bitDepthLumaMinus8 ?? 0) & 0x07))
        out.append(0xF8 | UInt8((parsed?.bitDepthChromaMinus8 ?? 0) & 0x07))
        out.append(contentsOf: [0x00, 0x00])  // avgFrameRate
        // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3.
        out.append(UInt8(temporalLayers & 0x07) << 3 | (temporalIDNested ? 0x04 : 0) | 0x03)
        out.append(UInt8(arrays.count))
        for (type, units) in arrays {
            out.append(0x80 | type)  // array_completeness 1, reserved 0, NAL_unit_type
            out.append(UInt8(units.count >> 8))
            out.append(UInt8(units.count & 0xFF))
            for unit in units {
                out.append(UInt8(unit.count >> 8))
                out.append(UInt8(unit.count & 0xFF))
                out.append(contentsOf: unit)
            }
        }
        return out
    }

    /// Parses the body of an `hvcC` box (an ISO/IEC 14496-15 `HEVCDecoderConfigurationRecord`).
    ///
    /// Guarantees: the result holds the record's VPS, SPS and PPS units in their order and
    /// ``info`` read from the first SPS (the record's own profile/level fields are not trusted);
    /// arrays of other NAL unit types (such as SEI) are skipped. configurationVersion 0, written
    /// by some pre-standard muxers with the same layout, is accepted. Never traps, whatever the bytes.
    /// - Throws: ``MediaFormatError/truncated(what:)`` if a count or length runs past the end;
    ///   ``MediaFormatError/invalidField(what:value:)`` for a configurationVersion above 1;
    ///   ``MediaFormatError/unsupported(what:)`` for NAL lengths other than 4 bytes (the only
    ///   size ``MediaFrame`` carries); anything ``init(vps:sps:pps:)`` throws.
    public init(decoderConfigurationRecord record: [UInt8]) throws {
        var r = BitReader(record, context: "hvcC")
        let version = try r.readBits(8, field: "configurationVersion")
        guard version <= 1 else {
            throw MediaFormatError.invalidField(what: "hvcC configurationVersion", value: Int(version))
        }
        // general_profile_space … avgFrameRate (bytes 1–20), then constantFrameRate,
        // numTemporalLayers and temporalIdNested.
        try r.skipBits(20 * 8 + 6, field: "header")
        let lengthSize = Int(try r.readBits(2, field: "lengthSizeMinusOne")) + 1
        guard lengthSize == 4 else {
            throw MediaFormatError.unsupported(what: "hvcC NAL length size \(lengthSize)")
        }
        let arrayCount = Int(try r.readBits(8, field: "numOfArrays"))
        var vps: [[UInt8]] = []
        var sps: [[UInt8]] = []
        var pps: [[UInt8]] = []
        for _ in 0..<arrayCount {
            try r.skipBits(2, field: "array_completeness")
            let type = UInt8(try r.readBits(6, field: "NAL_unit_type"))
            let unitCount = Int(try r.readBits(16, field: "numNalus"))
            for _ in 0..<unitCount {
                let length = Int(try r.readBits(16, field: "nalUnitLength"))
                let unit = try r.readBytes(length, field: "nalUnit")
                switch type {
                case H265NALType.vps: vps.append(unit)
                case H265NALType.sps: sps.append(unit)
                case H265NALType.pps: pps.append(unit)
                default: break
                }
            }
        }
        try self.init(vps: vps, sps: sps, pps: pps)
    }
}
