extension VideoInfo {
    /// Reads an H.264 sequence parameter set (ITU-T H.264 §7.3.2.1.1).
    ///
    /// `nal` is the whole NAL unit, its 1-byte header included, without a start code or length
    /// prefix; emulation-prevention bytes may be present. Guarantees: ``width`` and ``height``
    /// are the displayed size in pixels (after frame cropping, doubled map units for
    /// field-coded streams), both at least 1; ``profile`` is `profile_idc`, ``compatibility``
    /// the byte holding the `constraint_set` flags, ``level`` `level_idc`. VUI is not read.
    /// Never traps, whatever the bytes.
    /// - Throws: ``MediaFormatError`` naming the field that is missing or out of range.
    public init(h264SPS nal: [UInt8]) throws {
        let sps = try H264SPS(nal: nal)
        self.init(
            width: sps.width, height: sps.height, profile: sps.profileIDC, compatibility: sps.constraintFlags,
            level: sps.levelIDC)
    }

    /// The largest coded width or height either parser accepts, in luma samples: twice what any
    /// H.264 or H.265 level up to 6.2 allows (16 888), so only garbage is refused.
    static let maxCodedDimension = 32_768

    /// The fields of an H.264 SPS that Estuary uses (up to and including frame cropping).
    struct H264SPS: Sendable, Equatable {
        var profileIDC: Int
        var constraintFlags: Int
        var levelIDC: Int
        var seqParameterSetID: Int
        var chromaFormatIDC: Int
        var separateColourPlane: Bool
        var bitDepthLumaMinus8: Int
        var bitDepthChromaMinus8: Int
        var frameMbsOnly: Bool
        var width: Int
        var height: Int

        /// Profiles whose SPS carries chroma format, bit depth and scaling matrices.
        static let highProfiles: Set<Int> = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]

        init(nal: [UInt8]) throws {
            guard let header = nal.first else {
                throw MediaFormatError.truncated(what: "H.264 SPS NAL header")
            }
            guard header & 0x80 == 0 else {
                throw MediaFormatError.invalidField(what: "H.264 forbidden_zero_bit", value: 1)
            }
            guard header & 0x1F == H264NALType.sps else {
                throw MediaFormatError.invalidField(what: "H.264 SPS nal_unit_type", value: Int(header & 0x1F))
            }
            var r = BitReader(RBSP.unescape(Array(nal.dropFirst())), context: "H.264 SPS")

            profileIDC = Int(try r.readBits(8, field: "profile_idc"))
            constraintFlags = Int(try r.readBits(8, field: "constraint_set flags"))
            levelIDC = Int(try r.readBits(8, field: "level_idc"))
            seqParameterSetID = try r.readUE(field: "seq_parameter_set_id")
            guard seqParameterSetID <= 31 else {
                throw MediaFormatError.invalidField(what: "H.264 seq_parameter_set_id", value: seqParameterSetID)
            }

            chromaFormatIDC = 1
            separateColourPlane = false
            bitDepthLumaMinus8 = 0
            bitDepthChromaMinus8 = 0
            if Self.highProfiles.contains(profileIDC) {
                chromaFormatIDC = try r.readUE(field: "chroma_format_idc")
                guard chromaFormatIDC <= 3 else {
                    throw MediaFormatError.invalidField(what: "H.264 chroma_format_idc", value: chromaFormatIDC)
                }
                if chromaFormatIDC == 3 {
                    separateColourPlane = try r.readFlag(field: "separate_colour_plane_flag")
                }
                bitDepthLumaMinus8 = try r.readUE(field: "bit_depth_luma_minus8")
                guard bitDepthLumaMinus8 <= 6 else {
                    throw MediaFormatError.invalidField(what: "H.264 bit_depth_luma_minus8", value: bitDepthLumaMinus8)
                }
                bitDepthChromaMinus8 = try r.readUE(field: "bit_depth_chroma_minus8")
                guard bitDepthChromaMinus8 <= 6 else {
                    throw MediaFormatError.invalidField(what: "H.264 bit_depth_chroma_minus8", value: bitDepthChromaMinus8)
                }
                try r.skipBits(1, field: "qpprime_y_zero_transform_bypass_flag")
                if try r.readFlag(field: "seq_scaling_matrix_present_flag") {
                    let lists = chromaFormatIDC == 3 ? 12 : 8
                    for index in 0..<lists {
                        if try r.readFlag(field: "seq_scaling_list_present_flag") {
                            try Self.skipScalingList(&r, size: index < 6 ? 16 : 64)
                        }
                    }
                }
            }

            let log2MaxFrameNumMinus4 = try r.readUE(field: "log2_max_frame_num_minus4")
            guard log2MaxFrameNumMinus4 <= 12 else {
                throw MediaFormatError.invalidField(what: "H.264 log2_max_frame_num_minus4", value: log2MaxFrameNumMinus4)
            }
            let picOrderCntType = try r.readUE(field: "pic_order_cnt_type")
            switch picOrderCntType {
            case 0:
                let log2MaxPocLsbMinus4 = try r.readUE(field: "log2_max_pic_order_cnt_lsb_minus4")
                guard log2MaxPocLsbMinus4 <= 12 else {
                    throw MediaFormatError.invalidField(what: "H.264 log2_max_pic_order_cnt_lsb_minus4", value: log2MaxPocLsbMinus4)
                }
            case 1:
                try r.skipBits(1, field: "delta_pic_order_always_zero_flag")
                _ = try r.readSE(field: "offset_for_non_ref_pic")
                _ = try r.readSE(field: "offset_for_top_to_bottom_field")
                let cycle = try r.readUE(field: "num_ref_frames_in_pic_order_cnt_cycle")
                guard cycle <= 255 else {
                    throw MediaFormatError.invalidField(what: "H.264 num_ref_frames_in_pic_order_cnt_cycle", value: cycle)
                }
                for _ in 0..<cycle {
                    _ = try r.readSE(field: "offset_for_ref_frame")
                }
            case 2:
                break
            default:
                throw MediaFormatError.invalidField(what: "H.264 pic_order_cnt_type", value: picOrderCntType)
            }

            _ = try r.readUE(field: "max_num_ref_frames")
            try r.skipBits(1, field: "gaps_in_frame_num_value_allowed_flag")
            let widthInMbs = try r.readUE(field: "pic_width_in_mbs_minus1") + 1
            let heightInMapUnits = try r.readUE(field: "pic_height_in_map_units_minus1") + 1
            frameMbsOnly = try r.readFlag(field: "frame_mbs_only_flag")
            if !frameMbsOnly {
                try r.skipBits(1, field: "mb_adaptive_frame_field_flag")
            }
            try r.skipBits(1, field: "direct_8x8_inference_flag")

            // Frame cropping is in chroma sample units, and in field pairs for field coding (§7.4.2.1.1).
            let fieldFactor = frameMbsOnly ? 1 : 2
            let chromaArrayType = separateColourPlane ? 0 : chromaFormatIDC
            let cropUnitX: Int
            let cropUnitY: Int
            switch chromaArrayType {
            case 1: (cropUnitX, cropUnitY) = (2, 2 * fieldFactor)
            case 2: (cropUnitX, cropUnitY) = (2, fieldFactor)
            default: (cropUnitX, cropUnitY) = (1, fieldFactor)  // monochrome, 4:4:4 or separate planes
            }
            var (cropLeft, cropRight, cropTop, cropBottom) = (0, 0, 0, 0)
            if try r.readFlag(field: "frame_cropping_flag") {
                cropLeft = try r.readUE(field: "frame_crop_left_offset")
                cropRight = try r.readUE(field: "frame_crop_right_offset")
                cropTop = try r.readUE(field: "frame_crop_top_offset")
                cropBottom = try r.readUE(field: "frame_crop_bottom_offset")
            }
            // Every operand is below 2^34, so none of this can overflow.
            let codedWidth = widthInMbs * 16
            let codedHeight = heightInMapUnits * 16 * fieldFactor
            guard codedWidth <= VideoInfo.maxCodedDimension else {
                throw MediaFormatError.invalidField(what: "H.264 pic_width_in_mbs_minus1", value: widthInMbs - 1)
            }
            guard codedHeight <= VideoInfo.maxCodedDimension else {
                throw MediaFormatError.invalidField(what: "H.264 pic_height_in_map_units_minus1", value: heightInMapUnits - 1)
            }
            let cropX = cropUnitX * (cropLeft + cropRight)
            let cropY = cropUnitY * (cropTop + cropBottom)
            guard cropX < codedWidth else {
                throw MediaFormatError.invalidField(what: "H.264 frame_crop_left/right_offset", value: cropLeft + cropRight)
            }
            guard cropY < codedHeight else {
                throw MediaFormatError.invalidField(what: "H.264 frame_crop_top/bottom_offset", value: cropTop + cropBottom)
            }
            width = codedWidth - cropX
            height = codedHeight - cropY
        }

        /// Skips one `scaling_list()` (§7.3.2.1.1.1), checking each delta's range.
        private static func skipScalingList(_ r: inout BitReader, size: Int) throws {
            var lastScale = 8
            var nextScale = 8
            for _ in 0..<size {
                if nextScale != 0 {
                    let delta = try r.readSE(field: "delta_scale")
                    guard (-128...127).contains(delta) else {
                        throw MediaFormatError.invalidField(what: "H.264 delta_scale", value: delta)
                    }
                    nextScale = (lastScale + delta + 256) % 256
                }
                lastScale = nextScale == 0 ? lastScale : nextScale
            }
        }
    }
}
