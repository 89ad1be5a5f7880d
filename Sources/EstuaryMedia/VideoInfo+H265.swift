extension VideoInfo {
    /// Reads an H.265 sequence parameter set (ITU-T H.265 §7.3.2.2.1).
    ///
    /// `nal` is the whole NAL unit, its 2-byte header included, without a start code or length
    /// prefix; emulation-prevention bytes may be present. Guarantees: ``width`` and ``height``
    /// are the size in pixels after the conformance window, both at least 1; ``profile`` is
    /// `general_profile_idc`, ``compatibility`` `general_tier_flag` (0 or 1), ``level``
    /// `general_level_idc`. Nothing after the bit depths is read. Never traps, whatever the bytes.
    /// - Throws: ``MediaFormatError`` naming the field that is missing or out of range.
    public init(h265SPS nal: [UInt8]) throws {
        let sps = try H265SPS(nal: nal)
        self.init(
            width: sps.width, height: sps.height, profile: sps.generalProfileIDC, compatibility: sps.generalTierFlag,
            level: sps.generalLevelIDC)
    }

    /// The fields of an H.265 SPS that Estuary uses (up to and including the bit depths).
    struct H265SPS: Sendable, Equatable {
        var videoParameterSetID: Int
        var maxSubLayersMinus1: Int
        var temporalIDNesting: Bool
        var generalProfileSpace: Int
        var generalTierFlag: Int
        var generalProfileIDC: Int
        var generalProfileCompatibilityFlags: UInt32
        /// The 48 bits from `general_progressive_source_flag` to `general_inbld_flag`, as written.
        var generalConstraintIndicatorFlags: UInt64
        var generalLevelIDC: Int
        var seqParameterSetID: Int
        var chromaFormatIDC: Int
        var separateColourPlane: Bool
        var bitDepthLumaMinus8: Int
        var bitDepthChromaMinus8: Int
        var width: Int
        var height: Int

        init(nal: [UInt8]) throws {
            guard nal.count >= 2 else {
                throw MediaFormatError.truncated(what: "H.265 SPS NAL header")
            }
            guard nal[0] & 0x80 == 0 else {
                throw MediaFormatError.invalidField(what: "H.265 forbidden_zero_bit", value: 1)
            }
            let nalType = (nal[0] >> 1) & 0x3F
            guard nalType == H265NALType.sps else {
                throw MediaFormatError.invalidField(what: "H.265 SPS nal_unit_type", value: Int(nalType))
            }
            var r = BitReader(RBSP.unescape(Array(nal.dropFirst(2))), context: "H.265 SPS")

            videoParameterSetID = Int(try r.readBits(4, field: "sps_video_parameter_set_id"))
            maxSubLayersMinus1 = Int(try r.readBits(3, field: "sps_max_sub_layers_minus1"))
            guard maxSubLayersMinus1 <= 6 else {
                // In a multi-layer extension SPS (nuh_layer_id > 0), 7 means "no profile_tier_level here".
                let layerID = Int(nal[0] & 0x01) << 5 | Int(nal[1] >> 3)
                if layerID > 0 {
                    throw MediaFormatError.unsupported(what: "H.265 multi-layer SPS (nuh_layer_id \(layerID))")
                }
                throw MediaFormatError.invalidField(what: "H.265 sps_max_sub_layers_minus1", value: maxSubLayersMinus1)
            }
            temporalIDNesting = try r.readFlag(field: "sps_temporal_id_nesting_flag")

            // profile_tier_level(1, sps_max_sub_layers_minus1), §7.3.3.
            generalProfileSpace = Int(try r.readBits(2, field: "general_profile_space"))
            generalTierFlag = Int(try r.readBits(1, field: "general_tier_flag"))
            generalProfileIDC = Int(try r.readBits(5, field: "general_profile_idc"))
            generalProfileCompatibilityFlags = UInt32(try r.readBits(32, field: "general_profile_compatibility_flags"))
            generalConstraintIndicatorFlags = try r.readBits(48, field: "general constraint indicator flags")
            generalLevelIDC = Int(try r.readBits(8, field: "general_level_idc"))
            var subLayerProfilePresent: [Bool] = []
            var subLayerLevelPresent: [Bool] = []
            for _ in 0..<maxSubLayersMinus1 {
                subLayerProfilePresent.append(try r.readFlag(field: "sub_layer_profile_present_flag"))
                subLayerLevelPresent.append(try r.readFlag(field: "sub_layer_level_present_flag"))
            }
            if maxSubLayersMinus1 > 0 {
                try r.skipBits(2 * (8 - maxSubLayersMinus1), field: "reserved_zero_2bits")
            }
            for index in 0..<maxSubLayersMinus1 {
                if subLayerProfilePresent[index] {
                    // sub_layer_profile_space … sub_layer_inbld_flag: 2+1+5+32+4+43+1 bits.
                    try r.skipBits(88, field: "sub_layer profile")
                }
                if subLayerLevelPresent[index] {
                    try r.skipBits(8, field: "sub_layer_level_idc")
                }
            }

            seqParameterSetID = try r.readUE(field: "sps_seq_parameter_set_id")
            guard seqParameterSetID <= 15 else {
                throw MediaFormatError.invalidField(what: "H.265 sps_seq_parameter_set_id", value: seqParameterSetID)
            }
            chromaFormatIDC = try r.readUE(field: "chroma_format_idc")
            guard chromaFormatIDC <= 3 else {
                throw MediaFormatError.invalidField(what: "H.265 chroma_format_idc", value: chromaFormatIDC)
            }
            separateColourPlane = false
            if chromaFormatIDC == 3 {
                separateColourPlane = try r.readFlag(field: "separate_colour_plane_flag")
            }
            let codedWidth = try r.readUE(field: "pic_width_in_luma_samples")
            guard codedWidth > 0, codedWidth <= VideoInfo.maxCodedDimension else {
                throw MediaFormatError.invalidField(what: "H.265 pic_width_in_luma_samples", value: codedWidth)
            }
            let codedHeight = try r.readUE(field: "pic_height_in_luma_samples")
            guard codedHeight > 0, codedHeight <= VideoInfo.maxCodedDimension else {
                throw MediaFormatError.invalidField(what: "H.265 pic_height_in_luma_samples", value: codedHeight)
            }

            // Conformance window offsets are in chroma sample units (Table 6-1).
            let chromaArrayType = separateColourPlane ? 0 : chromaFormatIDC
            let subWidthC: Int
            let subHeightC: Int
            switch chromaArrayType {
            case 1: (subWidthC, subHeightC) = (2, 2)
            case 2: (subWidthC, subHeightC) = (2, 1)
            default: (subWidthC, subHeightC) = (1, 1)  // monochrome, 4:4:4 or separate planes
            }
            var (left, right, top, bottom) = (0, 0, 0, 0)
            if try r.readFlag(field: "conformance_window_flag") {
                left = try r.readUE(field: "conf_win_left_offset")
                right = try r.readUE(field: "conf_win_right_offset")
                top = try r.readUE(field: "conf_win_top_offset")
                bottom = try r.readUE(field: "conf_win_bottom_offset")
            }
            // Every operand is below 2^34, so none of this can overflow.
            let cropX = subWidthC * (left + right)
            let cropY = subHeightC * (top + bottom)
            guard cropX < codedWidth else {
                throw MediaFormatError.invalidField(what: "H.265 conf_win_left/right_offset", value: left + right)
            }
            guard cropY < codedHeight else {
                throw MediaFormatError.invalidField(what: "H.265 conf_win_top/bottom_offset", value: top + bottom)
            }
            width = codedWidth - cropX
            height = codedHeight - cropY

            bitDepthLumaMinus8 = try r.readUE(field: "bit_depth_luma_minus8")
            guard bitDepthLumaMinus8 <= 8 else {
                throw MediaFormatError.invalidField(what: "H.265 bit_depth_luma_minus8", value: bitDepthLumaMinus8)
            }
            bitDepthChromaMinus8 = try r.readUE(field: "bit_depth_chroma_minus8")
            guard bitDepthChromaMinus8 <= 8 else {
                throw MediaFormatError.invalidField(what: "H.265 bit_depth_chroma_minus8", value: bitDepthChromaMinus8)
            }
        }
    }
}
